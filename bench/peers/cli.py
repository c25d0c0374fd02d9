"""``python -m bench.peers``: every system through every workload, alternating, the medians, the
table and the headline."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import peers
from bench.harness import environment, load_average, package_version, print_headline, table, write_results
from bench.peers.systems import Dagster, DagsterMultiprocess, Ours, Prefect, System
from bench.peers.workloads import DAGSTER, DAGSTER_MP, OURS, PREFECT, WORKLOADS, Workload

DESCRIPTION = (peers.__doc__ or "").split("\n\n")[0]


def summarise(runs: list[dict[str, Any]], workload: Workload) -> dict[str, Any]:
    def med(key: str) -> float | None:
        values = [r[key] for r in runs if r.get(key) is not None]
        return statistics.median(values) if values else None

    wall = med("wall_s")
    return {
        "runs": len(runs),
        "wall_s": wall,
        "wall_ms_per_task": 1000 * wall / workload.graph.size if wall is not None else None,
        "makespan_s": med("makespan_s"),
        "critical_path_s": workload.critical_path_s,
        "ratio": med("ratio"),
        "to_first_task_s": med("to_first_task_s"),
        "after_last_task_s": med("after_last_task_s"),
        "dispatch_ms_mean": med("dispatch_ms_mean"),
        "dispatch_ms_max": med("dispatch_ms_max"),
        "cpu_s": med("cpu_s"),
        "children_cpu_s": med("children_cpu_s"),
        "settle_s": med("settle_s"),
        **{
            key: med(key)
            for key in (
                "runner_calls",
                "runner_s",
                "runner_dynamodb_requests",
                "runner_dynamodb_s",
                "history_events",
            )
            if any(key in r for r in runs)
        },
        "samples": runs,
    }


def print_table(results: dict[str, Any]) -> None:
    rows = []
    for workload in WORKLOADS:
        for system, s in results["workloads"][workload.key]["systems"].items():

            def ms(value: float | None) -> float:
                return 1000 * value if value is not None else float("nan")

            rows.append(
                [
                    workload.title,
                    system,
                    ms(s["wall_s"]),
                    s["wall_ms_per_task"],
                    ms(s["makespan_s"]),
                    ms(s["critical_path_s"]) if s["critical_path_s"] else float("nan"),
                    f"{s['ratio']:.2f}" if s["ratio"] is not None else "-",
                    ms(s["to_first_task_s"]),
                    s["dispatch_ms_mean"] if s["dispatch_ms_mean"] is not None else float("nan"),
                    ms(s["cpu_s"]),
                    ms(s["children_cpu_s"]) if s["children_cpu_s"] else float("nan"),
                    s["runs"],
                ]
            )
    print(
        table(
            [
                "workload",
                "system",
                "wall ms",
                "wall ms/task",
                "makespan ms",
                "crit. path ms",
                "makespan/cp",
                "to 1st task ms",
                "dispatch ms",
                "CPU ms",
                "child CPU ms",
                "runs",
            ],
            rows,
        )
    )
    print(
        "(medians; wall = submit until the client knows the run ended; makespan = first task start to "
        "last task end; dispatch = a task's start - its last dependency's end, mean over tasks with "
        "dependencies; CPU = this process, all threads; child CPU = its child processes (Prefect's "
        "local API server, Dagster multiprocess's op processes); every run checked: each task once, "
        "after all its dependencies ended)"
    )
    print(f"{OURS}, where the time went (medians):")
    for w in results["workloads"].values():
        s = w["systems"].get(OURS)
        if s and s.get("runner_calls") is not None:
            print(
                f"  {w['title']}: {s['cpu_s'] * 1000 / w['tasks']:.0f} ms CPU per task; "
                f"{s['runner_calls']:.0f} task runner calls, {s['runner_s'] * 1000:.0f} ms in them "
                f"(summed), {s['runner_dynamodb_requests']:.0f} DynamoDB requests taking "
                f"{s['runner_dynamodb_s'] * 1000:.0f} ms; {s['history_events']:.0f} Step Functions "
                "history events"
            )
    settles: dict[str, list[float]] = {}
    for w in results["workloads"].values():
        for system, s in w["systems"].items():
            settles.setdefault(system, []).extend(r["settle_s"] for r in s["samples"])
    print(
        "after each run, until this process and its children used < 10% of a core (CPU columns "
        "include this tail; the next run starts then), median: "
        + ", ".join(f"{k} {statistics.median(v) * 1000:.0f} ms" for k, v in settles.items())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="2 repeats instead of 5")
    parser.add_argument("--repeats", type=int, help="timed runs per workload and system")
    parser.add_argument(
        "--dagster-multiprocess",
        action="store_true",
        help="also Dagster's multiprocess executor (a process per op: slow; not in the default run)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    began = time.perf_counter()
    print(f"load average {load_average()} on {os.cpu_count()} CPUs", flush=True)
    versions = {
        "orchestration": environment().get("commit"),
        "moto": package_version("moto"),
        "prefect": package_version("prefect"),
        "dagster": package_version("dagster"),
    }
    results: dict[str, Any] = {
        "benchmark": "peers",
        "profile": "quick" if args.quick else "full",
        "repeats": repeats,
        "environment": environment(),
        "versions": versions,
        "load_before": list(os.getloadavg()),
        "systems": {},
        "unavailable": {},
        "workloads": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        systems: list[System] = []
        factories: list[tuple[str, Callable[[], System]]] = [
            (OURS, lambda: Ours(Path(tmp) / "runtime")),
            (PREFECT, lambda: Prefect(Path(tmp) / "prefect-home")),
            (DAGSTER, Dagster),
        ]
        if args.dagster_multiprocess:
            factories.append((DAGSTER_MP, lambda: DagsterMultiprocess(Path(tmp) / "dagster-mp")))
        for name, make in factories:
            try:
                started = time.perf_counter()
                system = make()
                systems.append(system)
                results["systems"][name] = {"setup": system.setup, "start_s": time.perf_counter() - started}
            except ImportError as exc:  # not installed: say so in one line and run the others
                results["unavailable"][name] = str(exc)
                print(f"{name}: not available ({exc}); pip install -e '.[bench]' — skipped", flush=True)
        try:
            for workload in WORKLOADS:
                graph = workload.graph
                print(
                    f"{workload.title}: {graph.size} tasks, {graph.edges} edges, critical path "
                    f"{workload.critical_path_s:.2f} s",
                    flush=True,
                )
                warmup: dict[str, float] = {}
                for system in systems:  # build, then one untimed warm-up run
                    started = time.perf_counter()
                    system.prepare(workload)
                    system.run(workload)
                    warmup[system.name] = time.perf_counter() - started
                    print(f"  {system.name}: warm-up {warmup[system.name]:.2f} s", flush=True)
                samples: dict[str, list[dict[str, Any]]] = {s.name: [] for s in systems}
                for r in range(repeats):  # each system first in turn
                    for system in systems[r % len(systems) :] + systems[: r % len(systems)]:
                        samples[system.name].append(system.run(workload))
                results["workloads"][workload.key] = {
                    "title": workload.title,
                    "tasks": graph.size,
                    "edges": graph.edges,
                    "seconds_per_task": workload.seconds,
                    "deps": [list(d) for d in graph.deps],
                    "warmup_s": warmup,
                    "systems": {name: summarise(runs, workload) for name, runs in samples.items()},
                }
                for name in samples:
                    s = results["workloads"][workload.key]["systems"][name]
                    ratio = f", makespan/cp {s['ratio']:.2f}" if s["ratio"] is not None else ""
                    print(f"  {name}: wall {s['wall_s'] * 1000:.0f} ms{ratio}", flush=True)
        finally:
            for system in systems:
                system.close()
    results["load_after"] = list(os.getloadavg())
    print()
    print(
        "versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items() if v)
        + f"; Python {results['environment']['python']}"
    )
    for name, info in results["systems"].items():
        print(f"  {name}: {info['setup']}")
    print()
    print_table(results)
    results["elapsed_s"] = time.perf_counter() - began
    rows = results["workloads"].get("random50", {}).get("systems", {})
    ours, prefect = rows.get(OURS, {}).get("ratio"), rows.get(PREFECT, {}).get("ratio")
    headline = ours / prefect if ours is not None and prefect is not None else None
    results["headline"] = {"ours_ratio": ours, "prefect_ratio": prefect, "ours_over_prefect": headline}
    path = write_results("peers", results)
    print(
        f"\n{results['elapsed_s']:.0f} s; load average {[round(x, 2) for x in results['load_after']]}; "
        f"wrote {path}"
    )
    if headline is None:
        print_headline("50-task makespan/critical path, this project / Prefect: n/a (Prefect not measured)")
    else:
        print_headline(
            f"50-task makespan/critical path, this project / Prefect: {headline:.2f} "
            f"({ours:.2f} / {prefect:.2f})"
        )
    return 0
