"""Measuring over HTTP: a request from 1 or more client threads for a bounded time and count,
and seeding by POST from several threads."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.harness import (
    Client,
    ClientThreads,
    DevServer,
    diamond_workflow,
    percentile,
)

CONCURRENCY = (1, 4)


@dataclass(frozen=True)
class Profile:
    duration: float  # seconds per measurement
    max_requests: int  # per measurement
    seed_target: int  # workflows stored for the list measurements
    seed_threads: int
    seed_budget: float  # seconds of seeding over HTTP; the rest goes into the saved data


FULL = Profile(duration=6.0, max_requests=20_000, seed_target=10_000, seed_threads=8, seed_budget=30.0)
QUICK = Profile(duration=1.0, max_requests=2_000, seed_target=1_000, seed_threads=8, seed_budget=3.0)


RequestFn = Callable[[Client, int], tuple[int, bytes]]


def measure(
    server: DevServer,
    name: str,
    concurrency: int,
    fn: RequestFn,
    expect: int,
    profile: Profile,
    warmup: int = 1,
) -> dict[str, Any]:
    """Run ``fn`` from ``concurrency`` threads (one connection each) for a bounded time/count."""
    clients = [Client(server.url, server.api_key) for _ in range(concurrency)]
    for _ in range(warmup):  # one client is enough to warm the server; the others just connect
        fn(clients[0], -1)
    counter = itertools.count()
    latencies: list[list[float]] = [[] for _ in clients]
    errors = [0] * concurrency
    sizes = [0] * concurrency
    deadline = [0.0]

    def worker(idx: int) -> None:
        client = clients[idx]
        while True:
            i = next(counter)
            if i >= profile.max_requests or time.perf_counter() >= deadline[0]:
                return
            t0 = time.perf_counter()
            status, payload = fn(client, i)
            latencies[idx].append(time.perf_counter() - t0)
            sizes[idx] += len(payload)
            if status != expect:
                errors[idx] += 1
                if errors[idx] == 1:
                    print(f"  ! {name}: status {status}: {payload[:300]!r}", file=sys.stderr)

    group = ClientThreads(worker, concurrency, daemon=True)
    cpu0 = server.cpu_seconds()
    started = time.perf_counter()
    deadline[0] = started + profile.duration
    group.release()
    group.join()
    elapsed = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu0
    for client in clients:
        client.close()
    merged = sorted(x for lst in latencies for x in lst)
    n = len(merged)
    return {
        "name": name,
        "concurrency": concurrency,
        "requests": n,
        "errors": sum(errors),
        "seconds": round(elapsed, 3),
        "rps": n / elapsed if elapsed else float("nan"),
        "p50_ms": percentile(merged, 50) * 1000,
        "p99_ms": percentile(merged, 99) * 1000,
        "mean_ms": (sum(merged) / n * 1000) if n else float("nan"),
        "server_cpu_ms_per_req": (cpu / n * 1000) if n else float("nan"),
        "bytes_per_resp": (sum(sizes) / n) if n else float("nan"),
    }


def seed(server: DevServer, count: int, profile: Profile) -> dict[str, Any]:
    """POST ``count`` diamond workflows from several threads; the rate overall and per block."""
    if count <= 0:
        return {"workflows": 0, "threads": 0, "seconds": 0.0, "rate": float("nan"), "block": 0, "blocks": []}
    counter = itertools.count()
    done: list[float] = []
    failures = [0]
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + profile.seed_budget

    def worker() -> None:
        client = Client(server.url, server.api_key)
        try:
            while time.perf_counter() < deadline:
                i = next(counter)
                if i >= count:
                    return
                status, payload = client.request("POST", "/workflows", diamond_workflow(f"seed-{i:05d}"))
                with lock:
                    if status == 201:
                        done.append(time.perf_counter())
                    else:
                        failures[0] += 1
                        if failures[0] == 1:
                            print(f"  ! seed: status {status}: {payload[:300]!r}", file=sys.stderr)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(profile.seed_threads)]
    for t in threads:
        t.start()
    last_report = started
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=0.5)
        if time.perf_counter() - last_report > 15:
            last_report = time.perf_counter()
            print(f"  seeding: {len(done):,}/{count:,} after {last_report - started:.0f}s", flush=True)
    elapsed = time.perf_counter() - started
    done.sort()
    block = max(25, len(done) // 8)
    blocks = []
    for k in range(0, len(done) - block + 1, block):
        t_begin = started if k == 0 else done[k - 1]
        span = done[k + block - 1] - t_begin
        blocks.append({"from": k, "to": k + block, "rate": block / span if span > 0 else float("nan")})
    return {
        "workflows": len(done),
        "failures": failures[0],
        "threads": profile.seed_threads,
        "seconds": round(elapsed, 2),
        "rate": len(done) / elapsed if elapsed else float("nan"),
        "block": block,
        "blocks": blocks,
        "stopped_by_budget": len(done) + failures[0] < count,
    }


def measure_into(
    rows: list[dict[str, Any]],
    server: DevServer,
    name: str,
    conc: int,
    fn: RequestFn,
    expect: int,
    profile: Profile,
) -> None:
    # Each multi-client run follows the one-client run of the same request, which warmed it.
    rows.append(measure(server, name, conc, fn, expect, profile, warmup=1 if conc == 1 else 0))
    progress(rows[-1])


def progress(row: dict[str, Any]) -> None:
    print(
        f"  {row['name']:<46} c={row['concurrency']}  {row['rps']:8.1f} req/s  "
        f"p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  ({row['requests']} req)",
        flush=True,
    )
