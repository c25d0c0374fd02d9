"""(2) makespan / critical path: sleep tasks of known durations run in the embedded runtime; the
excess broken down into dispatch delay and in-task overhead."""

from __future__ import annotations

import random
import statistics
from typing import Any

from bench.engine.graphs import Graph, Profile, critical_path, fork_join, n_shape, random_dag, series_parallel
from bench.harness import (
    Api,
    engine_execution_arn,
    history_events,
    load_average,
    table,
    ts,
)


def corpus(profile: Profile) -> list[tuple[Graph, list[float]]]:
    rng = random.Random(20240601)

    def durations(n: int) -> list[float]:
        return [round(rng.uniform(0.2, 1.0), 2) for _ in range(n)]

    # N: d depends only on a, so it must not wait for the slower b (a+d is the critical path).
    graphs: list[tuple[Graph, list[float]]] = [(n_shape(), [0.2, 0.6, 0.2, 1.0])]
    for k in range(profile.corpus_sp):
        g = fork_join(rng.randint(6, 10), rng.randrange(1 << 30))
        graphs.append((Graph(f"sp-{k + 1}", g.deps), durations(g.size)))
    made = 0
    while made < profile.corpus_non_sp:
        g = random_dag(rng.randint(6, 10), rng.randrange(1 << 30))
        if series_parallel(g):
            continue
        made += 1
        graphs.append((Graph(f"nsp-{made}", g.deps), durations(g.size)))
    return graphs


def makespan_benchmark(profile: Profile, api: Api) -> dict[str, Any]:
    import boto3

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    load_before = load_average()
    rows = []
    for graph, durations in corpus(profile):
        sp = series_parallel(graph)
        tasks = [
            {
                "name": graph.task_name(i),
                "type": "sleep",
                "config": {"seconds": durations[i]},
                "dependsOn": [graph.task_name(d) for d in deps],
            }
            for i, deps in enumerate(graph.deps)
        ]
        wf = api.create(f"bench-{graph.name}", tasks)
        ex = api.wait(api.execute(wf), poll=0.1)  # the timestamps do not depend on polling
        if ex["status"] != "completed":
            raise RuntimeError(f"{graph.name}: execution {ex['status']}: {ex.get('error')}")
        runs = {t["name"]: t for t in ex["tasks"]}
        started = [ts(runs[graph.task_name(i)]["startedAt"]) for i in range(graph.size)]
        completed = [ts(runs[graph.task_name(i)]["completedAt"]) for i in range(graph.size)]
        origin = min(started)
        dispatch = [
            started[i] - (max(completed[d] for d in deps) if deps else origin)
            for i, deps in enumerate(graph.deps)
        ]
        inflation = [completed[i] - started[i] - durations[i] for i in range(graph.size)]
        cp = critical_path(graph, durations)
        makespan = max(completed) - origin
        violations = sum(1 for i, deps in enumerate(graph.deps) for d in deps if started[i] < completed[d])
        arn = engine_execution_arn(sfn, ex["id"])
        events = history_events(sfn, arn) if arn else None
        row = {
            "graph": graph.name,
            "series_parallel": sp,
            "tasks": graph.size,
            "edges": graph.edges,
            "critical_path_s": cp,
            "makespan_s": makespan,
            "ratio": makespan / cp,
            "dispatch_ms_per_task": 1000 * statistics.fmean(dispatch),
            "dispatch_ms_max": 1000 * max(dispatch),
            "in_task_overhead_ms_per_task": 1000 * statistics.fmean(inflation),
            "dependency_violations": violations,
            "history_events": events,
            "deps": [list(d) for d in graph.deps],
            "durations_s": list(durations),
        }
        rows.append(row)
        print(
            f"  {graph.name:7} {'SP' if sp else 'non-SP':6} {graph.size:>2} tasks  "
            f"cp {cp:5.2f} s  makespan {makespan:5.2f} s  ratio {row['ratio']:.3f}",
            flush=True,
        )

    def summary(selected: list[dict[str, Any]]) -> dict[str, Any]:
        if not selected:
            return {}
        return {
            "graphs": len(selected),
            "ratio_mean": statistics.fmean(r["ratio"] for r in selected),
            "ratio_max": max(r["ratio"] for r in selected),
            "excess_s_mean": statistics.fmean(r["makespan_s"] - r["critical_path_s"] for r in selected),
            "dispatch_ms_per_task": _weighted(selected, "dispatch_ms_per_task"),
            "dispatch_ms_max": max(r["dispatch_ms_max"] for r in selected),
            "in_task_overhead_ms_per_task": _weighted(selected, "in_task_overhead_ms_per_task"),
            "history_events_per_task": sum(r["history_events"] or 0 for r in selected)
            / sum(r["tasks"] for r in selected),
        }

    return {
        "load_before": load_before,
        "load_after": load_average(),
        "rows": rows,
        "summary": {
            "series_parallel": summary([r for r in rows if r["series_parallel"]]),
            "non_series_parallel": summary([r for r in rows if not r["series_parallel"]]),
            "all": summary(rows),
        },
    }


def _weighted(rows: list[dict[str, Any]], key: str) -> float:
    """Per task over all tasks of the rows (not a mean of per-graph means)."""
    return float(sum(r[key] * r["tasks"] for r in rows) / sum(r["tasks"] for r in rows))


def print_makespan(result: dict[str, Any]) -> None:
    print()
    print(
        table(
            [
                "graph",
                "SP",
                "tasks",
                "edges",
                "crit. path s",
                "makespan s",
                "ratio",
                "dispatch ms/task",
                "max dispatch ms",
                "in-task ms/task",
                "events",
            ],
            [
                [
                    r["graph"],
                    "yes" if r["series_parallel"] else "no",
                    r["tasks"],
                    r["edges"],
                    r["critical_path_s"],
                    r["makespan_s"],
                    f"{r['ratio']:.3f}",
                    r["dispatch_ms_per_task"],
                    r["dispatch_ms_max"],
                    r["in_task_overhead_ms_per_task"],
                    r["history_events"] if r["history_events"] is not None else "-",
                ]
                for r in result["rows"]
            ],
        )
    )
    print()
    rows = []
    for label, key in (("SP", "series_parallel"), ("non-SP", "non_series_parallel"), ("all", "all")):
        s = result["summary"][key]
        if s:
            rows.append(
                [
                    label,
                    s["graphs"],
                    f"{s['ratio_mean']:.3f}",
                    f"{s['ratio_max']:.3f}",
                    s["excess_s_mean"] * 1000,
                    s["dispatch_ms_per_task"],
                    s["dispatch_ms_max"],
                    s["in_task_overhead_ms_per_task"],
                    s["history_events_per_task"],
                ]
            )
    print(
        table(
            [
                "graphs",
                "n",
                "ratio mean",
                "ratio max",
                "excess ms (mean)",
                "dispatch ms/task",
                "max dispatch ms",
                "in-task ms/task",
                "events/task",
            ],
            rows,
        )
    )
    bad = sum(r["dependency_violations"] for r in result["rows"])
    print(
        "dispatch = startedAt - max(dependency completedAt) (roots: startedAt - first startedAt); "
        "in-task = completedAt - startedAt - sleep; events = Step Functions history events of the "
        "execution (quota: 25,000). Timestamps have 1 ms resolution."
    )
    print(f"dependency violations (a task started before a dependency completed): {bad}")
    print(f"load average {result['load_before']} before, {result['load_after']} after")
