"""Timing: a median over repeated calls, and a call loop bounded by time and count."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.harness.report import percentile


def time_call(fn: Callable[[], Any], runs: int, min_seconds: float = 0.005) -> float:
    """Median seconds per call over ``runs`` samples; a sample repeats fn until min_seconds."""
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    repeat = max(1, int(min_seconds / once) if once > 0 else 1000)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        samples.append((time.perf_counter() - start) / repeat)
    return statistics.median(samples)


def time_loop(fn: Callable[[], Any], duration: float, max_calls: int) -> dict[str, Any]:
    """Five untimed calls, then ``fn`` one call at a time for ``duration`` seconds (at most
    ``max_calls``): the rate and latency percentiles."""
    for _ in range(5):
        fn()
    lat: list[float] = []
    started = time.perf_counter()
    deadline = started + duration
    while len(lat) < max_calls and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    lat.sort()
    return {
        "requests": len(lat),
        "seconds": round(elapsed, 3),
        "rps": len(lat) / elapsed,
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "mean_ms": sum(lat) / len(lat) * 1000,
    }


class ClientThreads:
    """``work(i)`` on ``count`` threads started at once: each waits at a barrier until
    ``release``, so that the clock starts with every client connected and ready."""

    def __init__(self, work: Callable[[int], None], count: int, daemon: bool = False) -> None:
        self.barrier = threading.Barrier(count + 1)

        def run(i: int) -> None:
            self.barrier.wait()
            work(i)

        self.threads = [threading.Thread(target=run, args=(i,), daemon=daemon) for i in range(count)]
        for t in self.threads:
            t.start()

    def release(self) -> None:
        self.barrier.wait()

    def join(self) -> None:
        for t in self.threads:
            t.join()
