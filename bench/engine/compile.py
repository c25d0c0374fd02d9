"""(1) compile: validate + compile + json.dumps of a definition against a topological sort of the
same graph, and the definition's size against Step Functions' 1 MiB quota."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from bench.engine.graphs import (
    DEFINITION_LIMIT,
    DEPLOYED_RUNNER_ARN,
    Graph,
    Profile,
    fork_join,
    random_dag,
    series_parallel,
)
from bench.harness import (
    CUSTOM_FUNCTIONS,
    table,
    time_call,
)


def definition_bytes(tasks: Sequence[Any]) -> int:
    from orchestration_core.engine.compiler import compile_definition

    return len(json.dumps(compile_definition(tasks, DEPLOYED_RUNNER_ARN, CUSTOM_FUNCTIONS)).encode())


def largest_under_limit(make: Callable[[int], Graph], task_type: str, hi: int = 5000) -> int:
    """Largest n whose definition fits the quota (bisection; sizes are close to linear in n)."""
    lo = 1
    if definition_bytes(make(hi).taskdefs(task_type)) <= DEFINITION_LIMIT:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if definition_bytes(make(mid).taskdefs(task_type)) <= DEFINITION_LIMIT:
            lo = mid
        else:
            hi = mid
    return lo


def compile_benchmark(profile: Profile) -> dict[str, Any]:
    from orchestration_core.engine.compiler import compile_definition
    from orchestration_core.workflows.dag import topological_order, validate_tasks

    rows: list[dict[str, Any]] = []
    for family, make in (("random", random_dag), ("fork-join", fork_join)):
        for n in profile.sizes:
            graph = make(n, 1000 + n)
            tasks = graph.taskdefs("noop")
            runs = profile.compile_runs if n <= 1000 else max(3, profile.compile_runs // 2)

            def validate(tasks: list[Any] = tasks) -> None:
                validate_tasks(tasks)

            def compile_(tasks: list[Any] = tasks) -> Any:
                return compile_definition(tasks, DEPLOYED_RUNNER_ARN, CUSTOM_FUNCTIONS)

            def full(tasks: list[Any] = tasks) -> int:
                validate_tasks(tasks)
                return len(json.dumps(compile_definition(tasks, DEPLOYED_RUNNER_ARN, CUSTOM_FUNCTIONS)))

            def topo(tasks: list[Any] = tasks) -> Any:
                return topological_order(tasks)

            definition = compile_()

            def dumps(d: Any = definition) -> str:
                return json.dumps(d)

            t_full = time_call(full, runs)
            t_topo = time_call(topo, max(runs, 11))
            t_validate = time_call(validate, runs)
            t_compile = time_call(compile_, runs)
            t_dumps = time_call(dumps, runs)
            size = len(json.dumps(definition).encode())
            size_custom = definition_bytes(graph.taskdefs("sleep"))
            row = {
                "family": family,
                "tasks": n,
                "edges": graph.edges,
                "series_parallel": series_parallel(graph),
                "total_ms": t_full * 1000,
                "topological_sort_ms": t_topo * 1000,
                "ratio": t_full / t_topo,
                "validate_ms": t_validate * 1000,
                "compile_ms": t_compile * 1000,
                "json_dumps_ms": t_dumps * 1000,
                "definition_bytes_noop": size,
                "definition_bytes_custom": size_custom,
                "over_limit_noop": size > DEFINITION_LIMIT,
                "over_limit_custom": size_custom > DEFINITION_LIMIT,
                "runs": runs,
            }
            rows.append(row)
            print(
                f"  {family:9} {n:>5} tasks: {row['total_ms']:8.2f} ms"
                f" vs topo {row['topological_sort_ms']:6.3f} ms"
                f"  ({size / 1e6:.2f} MB noop, {size_custom / 1e6:.2f} MB custom)",
                flush=True,
            )

    def seeded(make: Callable[[int, int], Graph]) -> Callable[[int], Graph]:
        return lambda n: make(n, 1000 + n)

    limits = {
        f"{family}/{label}": largest_under_limit(seeded(make), task_type)
        for family, make in (("random", random_dag), ("fork-join", fork_join))
        for label, task_type in (("noop", "noop"), ("custom", "sleep"))
    }
    return {
        "runner_arn": DEPLOYED_RUNNER_ARN,
        "definition_limit_bytes": DEFINITION_LIMIT,
        "api_max_tasks": 500,
        "rows": rows,
        "largest_workflow_under_limit": limits,
    }


def print_compile(result: dict[str, Any]) -> None:
    rows = result["rows"]
    print()
    print(
        table(
            [
                "graph",
                "tasks",
                "SP",
                "validate+compile+dumps ms",
                "topo sort ms",
                "ratio",
                "validate",
                "compile",
                "dumps",
                "bytes (noop)",
                "bytes (custom)",
                "> 1 MiB",
            ],
            [
                [
                    r["family"],
                    r["tasks"],
                    "yes" if r["series_parallel"] else "no",
                    r["total_ms"],
                    r["topological_sort_ms"],
                    r["ratio"],
                    r["validate_ms"],
                    r["compile_ms"],
                    r["json_dumps_ms"],
                    r["definition_bytes_noop"],
                    r["definition_bytes_custom"],
                    _over(r),
                ]
                for r in rows
            ],
        )
    )
    print(
        f"(runner ARN of {len(result['runner_arn'])} chars as deployed; custom = every task a custom type, "
        "i.e. prepare + invoke + complete states)"
    )
    print("Largest workflow whose definition fits 1 MiB (the API accepts up to 500 tasks):")
    for key, n in result["largest_workflow_under_limit"].items():
        print(f"  {key:18} {n:>5} tasks")
    both = [f"{r['family']}-{r['tasks']}" for r in rows if r["over_limit_noop"]]
    custom = [
        f"{r['family']}-{r['tasks']}" for r in rows if r["over_limit_custom"] and not r["over_limit_noop"]
    ]
    if both:
        print("EXCEEDS Step Functions' 1 MiB definition quota even with built-in tasks: " + ", ".join(both))
    if custom:
        print("EXCEEDS it with custom task types: " + ", ".join(custom))
    within_api = [r for r in rows if r["tasks"] <= result["api_max_tasks"] and r["over_limit_custom"]]
    if within_api:
        print(
            f"-> workflows the API accepts (<= {result['api_max_tasks']} tasks) can compile to definitions "
            "Step Functions refuses; moto (the embedded runtime) accepts them."
        )


def _over(row: dict[str, Any]) -> str:
    if row["over_limit_noop"]:
        return "YES"
    if row["over_limit_custom"]:
        return "custom"
    return "no"
