"""One load run: start the server, make the tenants' keys, seed, run the clients, verify, stop."""

from __future__ import annotations

import secrets
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.harness import DevServer
from bench.load.client import Client
from bench.load.model import (
    ETL_TASKS,
    Budget,
    Profile,
    Stats,
    Tenant,
    World,
    loadavg,
)
from bench.load.verify import Verdict, verify_executions, verify_workflows
from bench.load.workload import Worker


def run(profile: Profile, weights: dict[str, int], seed: int, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"loadavg": {"start": loadavg()}}
    server = DevServer(workdir, "orch_" + secrets.token_urlsafe(32), "--tasks", str(ETL_TASKS))
    server.start()
    out["startup_seconds"] = round(server.ready_seconds, 2)
    print(f"embedded runtime ready in {server.ready_seconds:.1f}s at {server.url}", flush=True)
    try:
        run_id = secrets.token_hex(3)
        tenants = [
            Tenant(i, f"load-{run_id}-{i}", server.create_key(f"load-{run_id}-{i}"))
            for i in range(profile.tenants)
        ]
        world = World(tenants)
        budget = Budget(profile.max_requests)
        workers = [
            Worker(i, tenants[i % len(tenants)], world, server.url, budget, weights, seed)
            for i in range(profile.threads)
        ]
        # Seed (not measured): a few workflows per tenant, so reads and updates have targets.
        seed_stats = Stats()
        for t in tenants:
            w = Worker(-1 - t.index, t, world, server.url, Budget(10**9), weights, seed)
            w.stats = seed_stats
            w.c.stats = seed_stats
            for _ in range(profile.seed_per_tenant):
                w.op_create("seed: create")
            w.c.close()

        print(
            f"load: {profile.threads} clients over {profile.tenants} tenants for {profile.duration:.0f}s"
            f" (at most {profile.max_requests:,} requests); load average {loadavg()}",
            flush=True,
        )
        out["loadavg"]["before_load"] = loadavg()
        barrier = threading.Barrier(len(workers) + 1)
        threads = [threading.Thread(target=w.run, args=(barrier,), daemon=True) for w in workers]
        for th in threads:
            th.start()
        cpu0 = server.cpu_seconds()
        started = time.perf_counter()
        budget.deadline = started + profile.duration
        barrier.wait()
        while any(th.is_alive() for th in threads):
            for th in threads:
                th.join(timeout=1.0)
            if time.perf_counter() - started > profile.duration + 300:
                raise RuntimeError("clients still busy 5 minutes after the deadline")
        elapsed = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu0
        out["loadavg"]["after_load"] = loadavg()
        load = Stats()
        for w in workers:
            load.merge(w.stats)
        requests = sum(len(s.latencies) for s in load.ops.values())
        window = 10.0 if profile.duration >= 30 else 5.0
        buckets = Counter(int((t - started) // window) for s in load.ops.values() for t in s.ends)
        out["load"] = {
            "seconds": round(elapsed, 2),
            "requests": requests,
            "rps": requests / elapsed if elapsed else float("nan"),
            "server_cpu_seconds": round(cpu, 2),
            "server_cpu_ms_per_request": cpu / requests * 1000 if requests else float("nan"),
            "capped": requests >= profile.max_requests,
            "window_seconds": window,
            # Requests answered per window of the load phase (answers after the deadline left out).
            "rps_by_window": [round(buckets[i] / window, 1) for i in range(int(profile.duration // window))],
        }
        print(f"  {requests:,} requests in {elapsed:.1f}s; verifying ...", flush=True)

        # Verify: one client per tenant, in parallel.
        vstats = [Stats() for _ in tenants]
        verdicts = [Verdict() for _ in tenants]
        t0 = time.perf_counter()
        exec_deadline = t0 + profile.exec_wait

        def verify(i: int) -> None:
            verify_workflows(server.url, tenants[i], world, vstats[i], verdicts[i])
            verify_executions(server.url, tenants[i], world, vstats[i], verdicts[i], exec_deadline)

        vthreads = [threading.Thread(target=verify, args=(i,), daemon=True) for i in range(len(tenants))]
        for th in vthreads:
            th.start()
        for th in vthreads:
            th.join()
        # The dev key's tenant: nobody wrote there, so it must see nothing.
        default_stats = Stats()
        c = Client(server.url, server.api_key, default_stats)
        r = c.call("verify: default tenant list", "GET", "/workflows?limit=100")
        c.close()
        verdict = Verdict()
        for v in verdicts:
            verdict.merge(v)
        if r is not None and r.status == 200 and (r.json()["total"] or r.json()["workflows"]):
            verdict.leaks.append(f"default tenant sees {r.json()['total']} workflows")
        verify_stats = Stats()
        for s in [*vstats, default_stats]:
            verify_stats.merge(s)
        out["verify_seconds"] = round(time.perf_counter() - t0, 1)
        out["loadavg"]["after_verify"] = loadavg()
        out["tracebacks_in_server_log"] = server.tracebacks()
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        out["stop"] = server.stop()
    out.update(
        {
            "tenants": tenants,
            "load_stats": load,
            "seed_stats": seed_stats,
            "verify_stats": verify_stats,
            "verdict": verdict,
            "server_log_tail": server.log_tail(1500) if out["stop"]["exit_code"] != 0 else None,
        }
    )
    return out
