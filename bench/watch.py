"""Benchmark of watching a run: how soon a watcher learns that it ended, and what idle
watchers cost the server.

Against ``orchestration dev`` (a subprocess, as a user runs it), over HTTP, in one run:

  (1) a run of one task held for ``--hold`` seconds, watched at the same time by the CLI's
      watcher (``orchestration_local.client.Changes``: GET with If-None-Match and waitSeconds,
      the long poll) and by the baseline, the watcher the CLI had before: a plain GET 25 ms
      after each change, the interval growing by half while nothing changes, up to 1 s. Each
      reports when it had the terminal state; against the execution's ``completedAt``.
  (2) ``--watchers`` watchers of a run that stays quiet for ``--idle`` seconds, each way in
      turn, and nobody watching: the server process's CPU time over that span.

    python -m bench.watch            # 5 runs of (1), 10 watchers for 10 s in (2); ~2 min
    python -m bench.watch --quick    # 2 runs, 5 watchers for 5 s

Writes bench/results/watch.json. The last line is the headline: (1)'s median delay of the long
poll over the baseline's, same run, and (2)'s server CPU per idle watcher each way.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import REPO, DevServer, environment, load_average, print_headline, table, write_results
from orchestration_local.client import TERMINAL, Changes, Client

TASKS_FILE = REPO / "bench" / "watch_tasks.py"
POLLING_STEADY = "polling once a second (the baseline's steady state)"


def polling_baseline(client: Client, execution_id: str, stop: threading.Event) -> dict[str, Any] | None:
    """The watcher before the long poll: look 25 ms after a change, growing by half to 1 s."""
    first, growth, longest = 0.025, 1.5, 1.0
    interval, seen = first, None
    while not stop.is_set():
        execution: dict[str, Any] = client.call("GET", f"/executions/{execution_id}")
        if execution["status"] in TERMINAL:
            return execution
        state = (execution["status"], tuple((t["name"], t["status"]) for t in execution["tasks"]))
        interval = first if state != seen else min(longest, interval * growth)
        seen = state
        stop.wait(interval)
    return None


def long_poll(client: Client, execution_id: str, stop: threading.Event) -> dict[str, Any] | None:
    changes = Changes(client, execution_id, 20.0)
    execution = changes.first()
    while execution["status"] not in TERMINAL and not stop.is_set():
        execution = changes.next() or execution
    return execution if execution["status"] in TERMINAL else None


def once_a_second(client: Client, execution_id: str, stop: threading.Event) -> dict[str, Any] | None:
    """What the baseline settles at on a quiet run: one plain GET a second."""
    while not stop.wait(1.0):
        client.call("GET", f"/executions/{execution_id}")
    return None


WATCHERS: dict[str, Callable[[Client, str, threading.Event], dict[str, Any] | None]] = {
    "long poll (If-None-Match, waitSeconds=20)": long_poll,
    "polling (25 ms, x1.5, up to 1 s)": polling_baseline,
}


class Bench:
    def __init__(self, server: DevServer, client: Client, folder: Path) -> None:
        self.server, self.client, self.folder = server, client, folder
        created = client.call(
            "POST", "/workflows", {"name": "watched", "tasks": [{"name": "hold", "type": "hold"}]}
        )
        self.workflow_id = str(created["id"])

    def start(self) -> tuple[str, Path]:
        key = uuid.uuid4().hex
        started = self.client.call(
            "POST",
            f"/workflows/{self.workflow_id}/execute",
            {"parameters": {"dir": str(self.folder), "key": key}},
        )
        execution_id = str(started["executionId"])
        deadline = time.monotonic() + 60
        while self.client.call("GET", f"/executions/{execution_id}")["tasks"][0]["status"] != "running":
            if time.monotonic() > deadline:
                raise RuntimeError("the held task never started")
            time.sleep(0.02)
        return execution_id, self.folder / f"{key}.release"

    def delays(self, hold: float) -> dict[str, float]:
        """(1): each watcher's delay in ms from the run's end to knowing it."""
        execution_id, release = self.start()
        seen: dict[str, float] = {}
        stop = threading.Event()

        def follow(
            name: str, watcher: Callable[[Client, str, threading.Event], dict[str, Any] | None]
        ) -> None:
            if watcher(self.client_copy(), execution_id, stop) is not None:
                seen[name] = time.time()

        threads = [threading.Thread(target=follow, args=item) for item in WATCHERS.items()]
        for thread in threads:
            thread.start()
        time.sleep(hold)  # a benchmark: the run is meant to be this long and quiet
        release.touch()
        for thread in threads:
            thread.join(60)
        stop.set()
        ended = self.client.call("GET", f"/executions/{execution_id}")
        ended_at = datetime.fromisoformat(ended["completedAt"].replace("Z", "+00:00")).timestamp()
        return {name: (at - ended_at) * 1000 for name, at in seen.items()}

    def idle_cpu(
        self, watcher: Callable[[Client, str, threading.Event], Any] | None, n: int, seconds: float
    ) -> float:
        """(2): the server's CPU seconds while ``n`` watchers follow a quiet run for ``seconds``."""
        execution_id, release = self.start()
        stop = threading.Event()
        threads = [
            threading.Thread(target=watcher, args=(self.client_copy(), execution_id, stop))
            for _ in range(n if watcher else 0)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # let them settle (the baseline backs off to its 1 s)
        before = self.server.cpu_seconds()
        time.sleep(seconds)
        used = self.server.cpu_seconds() - before
        stop.set()
        release.touch()
        for thread in threads:
            thread.join(60)
        return used

    def client_copy(self) -> Client:
        return Client(self.client.base_url, self.client.api_key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.watch", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="2 runs, 5 watchers for 5 s")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the watched run is quiet in (1)")
    args = parser.parse_args(argv)
    runs, watchers, idle = (2, 5, 5.0) if args.quick else (5, 10, 10.0)
    print(f"load average {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        workdir = Path(tmp)
        server = DevServer(workdir, "orch_" + uuid.uuid4().hex, "--tasks", str(TASKS_FILE))
        server.start()
        try:
            bench = Bench(server, Client(server.url, server.api_key), workdir)
            print(f"\n1. a run's end, seen by each watcher ({runs} runs held {args.hold} s)", flush=True)
            delays: dict[str, list[float]] = {name: [] for name in WATCHERS}
            for _ in range(runs):
                for name, ms in bench.delays(args.hold).items():
                    delays[name].append(ms)
            rows = [
                [name, f"{statistics.median(v):.0f}", f"{max(v):.0f}", len(v)] for name, v in delays.items()
            ]
            print(table(["watcher", "median ms", "max ms", "runs"], rows))
            print(f"\n2. server CPU with {watchers} watchers of a quiet run for {idle:.0f} s", flush=True)
            cpu = {
                "nobody watching": bench.idle_cpu(None, 0, idle),
                "long poll": bench.idle_cpu(long_poll, watchers, idle),
                "polling once a second (the baseline's steady state)": bench.idle_cpu(
                    once_a_second, watchers, idle
                ),
            }
            rest = cpu["nobody watching"]
            per_watcher = {name: (used - rest) / watchers / idle * 1000 for name, used in cpu.items()}
            print(
                table(
                    ["watchers", "CPU s", "ms of CPU per watcher per second"],
                    [[name, f"{used:.2f}", f"{per_watcher[name]:.1f}"] for name, used in cpu.items()],
                )
            )
        finally:
            server.stop()
    results = {
        "benchmark": "watch",
        "environment": environment(),
        "delays_ms": delays,
        "cpu_s": cpu,
        "cpu_ms_per_watcher_second": per_watcher,
        "watchers": watchers,
        "idle_s": idle,
    }
    print(f"\nwrote {write_results('watch', results)}")
    names = list(WATCHERS)
    ratio = statistics.median(delays[names[0]]) / statistics.median(delays[names[1]])
    print_headline(
        f"watch: a run's end seen after {statistics.median(delays[names[0]]):.0f} ms by the long poll, "
        f"{statistics.median(delays[names[1]]):.0f} ms by polling: x{ratio:.3f} (same run); idle watcher "
        f"{per_watcher['long poll']:.1f} vs {per_watcher[POLLING_STEADY]:.1f} "
        "ms of server CPU per second"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
