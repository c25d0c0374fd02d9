"""Benchmark of the execution engine: compiler cost, schedule exactness, per-task overhead.

Three measurements, each against a baseline measured in the same run:

  1. compile: ``dag.validate_tasks`` + ``compiler.compile_definition`` + ``json.dumps`` of the
     definition (what ``Engine.ensure_state_machine`` sends) for seeded random DAGs (each task
     depends on 0-3 random earlier tasks) and nested fork-joins (series-parallel) of 100 / 500
     (the API's task limit) / 1,000 / 5,000 tasks, against ``dag.topological_order`` of the same
     graph. Also the definition's size against Step Functions' 1 MiB definition quota, for
     built-in (noop) tasks and for custom task types (more states per task), and the largest
     workflow of each family that still fits.
  2. makespan: a corpus of small graphs (the "N" shape a->c, b->c, a->d; nested fork-joins;
     random non-series-parallel DAGs) of ``sleep`` tasks with known durations (0.2-1.0 s), run
     in the embedded runtime through the API. Makespan (last completedAt - first startedAt, from
     the recorded task timestamps) / critical path (longest path by durations); 1.00 is exact.
     The excess is broken down per task into dispatch delay (startedAt - max(dependency
     completedAt)) and in-task overhead (completedAt - startedAt - sleep).
  3. end-to-end: a 10-task noop chain and a fork of 10 independent noop tasks, executed through
     the API and polled with GET /executions/{id}, against a hand-written ASL machine of the
     same shape (10 ``lambda:invoke`` Task states calling a trivial in-process function) run
     directly in the same moto with start_execution / describe_execution. Wall, recorded and
     CPU time; the engine's time broken down (phases, task runner calls and their DynamoDB
     requests, moto's per-start parse of the definition).

    python -m bench.engine            # ~2-3 minutes
    python -m bench.engine --quick    # ~40 seconds

Prints tables and writes bench/results/engine.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench._util import environment, table, write_results

# Step Functions' quota on a state machine definition (CreateStateMachine rejects larger ones).
DEFINITION_LIMIT = 1024 * 1024
# What !GetAtt TaskRunnerFunction.Arn looks like once deployed (CloudFormation-generated name):
# the runner's ARN is repeated in several states per task, so its length matters for the size.
DEPLOYED_RUNNER_ARN = (
    "arn:aws:lambda:eu-central-1:123456789012:function:orchestration-TaskRunnerFunction-Xq3vB7nK2mPa"
)
CUSTOM_FUNCTIONS = {"sleep": "orchestration-task-sleep"}
TERMINAL = {"completed", "failed", "cancelled"}
RUNNER = "TaskRunnerFunction"
HAND_FUNCTION = "bench-engine-trivial"


@dataclass(frozen=True)
class Profile:
    sizes: tuple[int, ...]
    compile_runs: int
    corpus_sp: int  # series-parallel graphs besides the N shape
    corpus_non_sp: int  # non-series-parallel graphs besides the N shape
    e2e_runs: int
    parse_probe: int  # tasks of a random workflow whose moto parse time is measured in (3); 0: none
    poll: float  # seconds between status polls in (3): each engine GET costs ~5 ms of this process's CPU


FULL = Profile(
    sizes=(100, 500, 1000, 5000),
    compile_runs=7,
    corpus_sp=9,
    corpus_non_sp=10,
    e2e_runs=5,
    parse_probe=100,
    poll=0.02,
)
QUICK = Profile(
    sizes=(100, 500, 1000), compile_runs=3, corpus_sp=2, corpus_non_sp=3, e2e_runs=3, parse_probe=0, poll=0.02
)


# ------------------------------------------------------------------------------------- graphs
@dataclass(frozen=True)
class Graph:
    """A task graph as indices: ``deps[i]`` are the tasks task i depends on (all < i)."""

    name: str
    deps: tuple[tuple[int, ...], ...]

    @property
    def size(self) -> int:
        return len(self.deps)

    @property
    def edges(self) -> int:
        return sum(len(d) for d in self.deps)

    def task_name(self, i: int) -> str:
        return f"t{i:05d}"

    def taskdefs(self, task_type: str = "noop") -> list[Any]:
        from orchestration_core.domain import TaskDef

        return [
            TaskDef(self.task_name(i), task_type, {}, tuple(self.task_name(d) for d in deps))
            for i, deps in enumerate(self.deps)
        ]


def random_dag(n: int, seed: int) -> Graph:
    """Each task depends on 0-3 distinct random earlier tasks."""
    rng = random.Random(seed)
    deps = tuple(tuple(sorted(rng.sample(range(i), rng.randint(0, min(3, i))))) for i in range(n))
    return Graph(f"random-{n}", deps)


def fork_join(n: int, seed: int) -> Graph:
    """Nested fork-joins and chains of exactly n tasks (series-parallel by construction)."""
    rng = random.Random(seed)
    deps: list[tuple[int, ...]] = []

    def add(parents: Sequence[int]) -> int:
        deps.append(tuple(sorted(parents)))
        return len(deps) - 1

    def block(size: int, parents: Sequence[int]) -> int:
        """``size`` tasks with one source (depending on ``parents``) and one sink, returned."""
        if size == 1:
            return add(parents)
        if size == 2:
            return add([add(parents)])
        if size < 5 or rng.random() < 0.3:  # two blocks in series
            first = rng.randint(1, size - 1)
            return block(size - first, [block(first, parents)])
        fork = add(parents)
        inner = size - 2
        k = rng.randint(2, min(4, inner))
        cuts = sorted(rng.sample(range(1, inner), k - 1))
        sinks = [block(b - a, [fork]) for a, b in pairwise([0, *cuts, inner])]
        return add(sinks)

    block(n, [])
    assert len(deps) == n
    return Graph(f"forkjoin-{n}", tuple(deps))


def n_shape() -> Graph:
    # a=0, b=1, c=2, d=3: a->c, b->c, a->d.
    return Graph("N", ((), (), (0, 1), (0,)))


def series_parallel(graph: Graph) -> bool:
    from orchestration_core.compiler import is_series_parallel

    return is_series_parallel(graph.taskdefs())


# ------------------------------------------------------------------------------- 1. compile
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


def definition_bytes(tasks: Sequence[Any]) -> int:
    from orchestration_core.compiler import compile_definition

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
    from orchestration_core.compiler import compile_definition
    from orchestration_core.dag import topological_order, validate_tasks

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

            definition = compile_()
            t_full = time_call(full, runs)
            t_topo = time_call(lambda tasks=tasks: topological_order(tasks), max(runs, 11))
            t_validate = time_call(validate, runs)
            t_compile = time_call(compile_, runs)
            t_dumps = time_call(lambda d=definition: json.dumps(d), runs)
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
    limits = {
        f"{family}/{label}": largest_under_limit(lambda n, make=make: make(n, 1000 + n), task_type)
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


# ------------------------------------------------------------------------ the embedded runtime
def _sleep_task(task: dict[str, Any]) -> dict[str, Any]:
    time.sleep(float(task["config"].get("seconds", 0)))
    return {"slept": task["config"].get("seconds", 0)}


class Api:
    def __init__(self, runtime: Any, key: str) -> None:
        from orchestration_local.gateway import HttpRequest

        self.runtime = runtime
        self.key = key
        self.request = HttpRequest

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = [("Content-Type", "application/json"), ("Authorization", f"Bearer {self.key}")]
        payload = json.dumps(body).encode() if body is not None else b""
        resp = self.runtime.gateway.handle(self.request(method, path, "", headers, payload))
        return resp.status, (json.loads(resp.body) if resp.body else None)

    def create(self, name: str, tasks: list[dict[str, Any]]) -> str:
        status, wf = self.call("POST", "/workflows", {"name": name, "tasks": tasks})
        if status != 201:
            raise RuntimeError(f"POST /workflows: {status} {wf}")
        return str(wf["id"])

    def execute(self, workflow_id: str) -> str:
        status, started = self.call("POST", f"/workflows/{workflow_id}/execute", {})
        if status != 202:
            raise RuntimeError(f"POST execute: {status} {started}")
        return str(started["executionId"])

    def wait(self, execution_id: str, poll: float, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.call("GET", f"/executions/{execution_id}")
            if status != 200:
                raise RuntimeError(f"GET execution: {status} {body}")
            if body["status"] in TERMINAL:
                return dict(body)
            if time.monotonic() > deadline:
                raise RuntimeError(f"execution {execution_id} still {body['status']} after {timeout} s")
            time.sleep(poll)


class RunnerTimer:
    """Wraps the task runner's in-process Lambda: invocations, time inside it, and the DynamoDB
    requests it makes (counted in moto's DynamoDB handler, on the runner's own thread)."""

    def __init__(self, target: Callable[[Any], Any]) -> None:
        self.target = target
        self.lock = threading.Lock()
        self.local = threading.local()
        self.calls = 0
        self.seconds = 0.0
        self.dynamodb: dict[str, int] = {}
        self.dynamodb_seconds = 0.0

    def __call__(self, event: Any) -> Any:
        start = time.perf_counter()
        self.local.inside = True
        try:
            return self.target(event)
        finally:
            self.local.inside = False
            elapsed = time.perf_counter() - start
            with self.lock:
                self.calls += 1
                self.seconds += elapsed

    def install_dynamodb_counter(self) -> Callable[[], None]:
        """Count the runner's DynamoDB requests; returns the function that uninstalls it."""
        from moto.dynamodb.responses import DynamoHandler

        hooked = DynamoHandler.call_action  # orchestration_local.aws's lock + dirty tracking
        timer = self

        def call_action(handler: Any) -> Any:
            if not getattr(timer.local, "inside", False):
                return hooked(handler)
            start = time.perf_counter()
            try:
                return hooked(handler)
            finally:
                elapsed = time.perf_counter() - start
                action = handler._get_action()
                with timer.lock:
                    timer.dynamodb[action] = timer.dynamodb.get(action, 0) + 1
                    timer.dynamodb_seconds += elapsed

        call_action.__wrapped__ = hooked.__wrapped__  # type: ignore[attr-defined]
        DynamoHandler.call_action = call_action  # type: ignore[method-assign]

        def uninstall() -> None:
            DynamoHandler.call_action = hooked  # type: ignore[method-assign]

        return uninstall

    def reset(self) -> None:
        with self.lock:
            self.calls, self.seconds = 0, 0.0
            self.dynamodb, self.dynamodb_seconds = {}, 0.0


def start_runtime(workdir: Path) -> tuple[Any, Api, RunnerTimer]:
    from orchestration_local import aws
    from orchestration_local.runtime import Runtime

    runtime = Runtime(workdir, persist=False, tasks={"sleep": _sleep_task})
    timer = RunnerTimer(partial(runtime.functions.invoke, RUNNER))
    aws.register_lambda(RUNNER, timer)  # this process only: count and time runner invocations
    aws.register_lambda(HAND_FUNCTION, lambda event: event)
    aws.create_lambda_functions([HAND_FUNCTION])
    key, _ = runtime.key_store().create(f"bench-{uuid.uuid4().hex[:8]}", "bench/engine.py")
    return runtime, Api(runtime, key), timer


def _ts(text: str) -> float:
    from orchestration_core.clock import parse_iso

    return parse_iso(text).timestamp()


# ------------------------------------------------------------------------------ 2. makespan
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


def critical_path(graph: Graph, durations: Sequence[float]) -> float:
    finish: list[float] = []
    for i, deps in enumerate(graph.deps):  # deps are earlier tasks: index order is topological
        finish.append(max((finish[d] for d in deps), default=0.0) + durations[i])
    return max(finish)


def makespan_benchmark(profile: Profile, api: Api) -> dict[str, Any]:
    import boto3

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    load_before = _load()
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
        started = [_ts(runs[graph.task_name(i)]["startedAt"]) for i in range(graph.size)]
        completed = [_ts(runs[graph.task_name(i)]["completedAt"]) for i in range(graph.size)]
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
        "load_after": _load(),
        "rows": rows,
        "summary": {
            "series_parallel": summary([r for r in rows if r["series_parallel"]]),
            "non_series_parallel": summary([r for r in rows if not r["series_parallel"]]),
            "all": summary(rows),
        },
    }


def _weighted(rows: list[dict[str, Any]], key: str) -> float:
    """Per task over all tasks of the rows (not a mean of per-graph means)."""
    return sum(r[key] * r["tasks"] for r in rows) / sum(r["tasks"] for r in rows)


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


# ---------------------------------------------------------------------------- 3. end to end
def chain_tasks(n: int) -> list[dict[str, Any]]:
    return [{"name": f"t{i}", "type": "noop", "dependsOn": [f"t{i - 1}"] if i else []} for i in range(n)]


def fork_tasks(n: int) -> list[dict[str, Any]]:
    return [{"name": f"t{i}", "type": "noop"} for i in range(n)]


def hand_written(shape: str, n: int) -> dict[str, Any]:
    def task(name: str, nxt: str | None) -> dict[str, Any]:
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": HAND_FUNCTION, "Payload.$": "$"},
            "ResultSelector": {"ok.$": "$.Payload"},
            "ResultPath": None,
        }
        if nxt:
            state["Next"] = nxt
        else:
            state["End"] = True
        return state

    if shape == "chain":
        names = [f"t{i}" for i in range(n)]
        return {
            "StartAt": names[0],
            "States": {a: task(a, b) for a, b in zip(names, [*names[1:], None], strict=True)},
        }
    return {
        "StartAt": "fork",
        "States": {
            "fork": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": f"t{i}", "States": {f"t{i}": task(f"t{i}", None)}} for i in range(n)
                ],
                "ResultPath": None,
                "End": True,
            }
        },
    }


def history_events(sfn: Any, execution_arn: str) -> int:
    count, token = 0, None
    while True:
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        count += len(page["events"])
        token = page.get("nextToken")
        if not token:
            return count


def engine_execution_arn(sfn: Any, execution_id: str) -> str | None:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if not machine["name"].startswith("orch-"):
                continue
            arn = machine["stateMachineArn"].replace(":stateMachine:", ":execution:") + f":{execution_id}"
            try:
                sfn.describe_execution(executionArn=arn)
            except sfn.exceptions.ExecutionDoesNotExist:
                continue
            return str(arn)
    return None


def moto_parse_seconds(definition: str, runs: int = 3) -> float | None:
    """CPU seconds moto's ASL parser (ANTLR) takes for ``definition``. moto parses the whole
    definition at every execution start; the embedded runtime memoises the parse by definition
    (orchestration_local/aws.py), so this is paid once per machine, not per execution. The
    unmemoised parser is timed here (AWS's own cost is not visible)."""
    try:
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    except ImportError:  # moto moved it: the figure is diagnostic only
        return None
    parse = getattr(AmazonStateLanguageParser.parse, "__wrapped__", AmazonStateLanguageParser.parse)
    samples = []
    for _ in range(runs):
        start = time.process_time()
        parse(definition)
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def end_to_end_benchmark(profile: Profile, api: Api, timer: RunnerTimer) -> dict[str, Any]:
    import boto3

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    n = 10
    out: dict[str, Any] = {
        "tasks": n,
        "runs": profile.e2e_runs,
        "poll_seconds": profile.poll,
        "load_before": _load(),
        "shapes": {},
    }

    def engine_run(workflow_id: str, cold: bool) -> dict[str, Any]:
        timer.reset()
        cpu, start = time.process_time(), time.perf_counter()
        eid = api.execute(workflow_id)
        accepted = time.perf_counter() - start
        ex = api.wait(eid, poll=profile.poll)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if ex["status"] != "completed":
            raise RuntimeError(f"engine: {ex['status']} {ex.get('error')}")
        first = min(_ts(t["startedAt"]) for t in ex["tasks"])
        last = max(_ts(t["completedAt"]) for t in ex["tasks"])
        return {
            "cold": cold,
            "wall_s": wall,
            "cpu_s": cpu,
            "execute_call_s": accepted,
            "record_s": _ts(ex["completedAt"]) - _ts(ex["startedAt"]),
            "before_first_task_s": first - _ts(ex["startedAt"]),
            "tasks_span_s": last - first,
            "after_last_task_s": _ts(ex["completedAt"]) - last,
            "runner_invocations": timer.calls,
            "runner_seconds": timer.seconds,
            "runner_dynamodb_requests": dict(timer.dynamodb),
            "runner_dynamodb_seconds": timer.dynamodb_seconds,
            "execution_id": eid,
        }

    def hand_run(machine: str, cold: bool) -> dict[str, Any]:
        cpu, start = time.process_time(), time.perf_counter()
        arn = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex, input="{}")["executionArn"]
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            time.sleep(profile.poll)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if described["status"] != "SUCCEEDED":
            raise RuntimeError(f"hand-written: {described['status']}")
        return {
            "cold": cold,
            "wall_s": wall,
            "cpu_s": cpu,
            "record_s": (described["stopDate"] - described["startDate"]).total_seconds(),
            "execution_arn": arn,
        }

    uninstall = timer.install_dynamodb_counter()
    try:
        for shape, make in (("chain", chain_tasks), ("fork", fork_tasks)):
            out["shapes"][shape] = _end_to_end_shape(
                shape, make(n), profile.e2e_runs, api, sfn, engine_run, hand_run
            )
    finally:
        uninstall()
    if profile.parse_probe:
        from orchestration_core.compiler import compile_definition

        graph = random_dag(profile.parse_probe, 1000 + profile.parse_probe)
        definition = json.dumps(compile_definition(graph.taskdefs("noop"), DEPLOYED_RUNNER_ARN, {}))
        out["moto_parse_probe"] = {
            "tasks": graph.size,
            "definition_bytes": len(definition.encode()),
            "moto_parse_s": moto_parse_seconds(definition, runs=1),
        }
    out["load_after"] = _load()
    return out


def _end_to_end_shape(
    shape: str,
    tasks: list[dict[str, Any]],
    runs: int,
    api: Api,
    sfn: Any,
    engine_run: Callable[[str, bool], dict[str, Any]],
    hand_run: Callable[[str, bool], dict[str, Any]],
) -> dict[str, Any]:
    n = len(tasks)
    wf = api.create(f"bench-e2e-{shape}", tasks)
    start = time.perf_counter()
    machine = sfn.create_state_machine(
        name=f"bench-hand-{shape}-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(hand_written(shape, n)),
        roleArn="arn:aws:iam::123456789012:role/bench",
    )["stateMachineArn"]
    create_s = time.perf_counter() - start
    # The engine's first run also creates its state machine. Then alternate the two, so that a
    # noisy neighbour on the machine slows both alike.
    engine_runs, hand_runs = [engine_run(wf, True)], [hand_run(machine, True)]
    for _ in range(runs):
        engine_runs.append(engine_run(wf, False))
        hand_runs.append(hand_run(machine, False))
    arn = engine_execution_arn(sfn, engine_runs[-1]["execution_id"])
    engine_events = history_events(sfn, arn) if arn else None
    hand_events = history_events(sfn, hand_runs[-1]["execution_arn"])
    engine_definition = (
        sfn.describe_state_machine(
            stateMachineArn=sfn.describe_execution(executionArn=arn)["stateMachineArn"]
        )["definition"]
        if arn
        else ""
    )
    hand_definition = sfn.describe_state_machine(stateMachineArn=machine)["definition"]

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in runs if not r["cold"])

    e_wall, h_wall = med(engine_runs, "wall_s"), med(hand_runs, "wall_s")
    e_rec, h_rec = med(engine_runs, "record_s"), med(hand_runs, "record_s")
    e_cpu, h_cpu = med(engine_runs, "cpu_s"), med(hand_runs, "cpu_s")
    result = {
        "engine": {
            "median_wall_s": e_wall,
            "median_record_s": e_rec,
            "median_cpu_s": e_cpu,
            "median_execute_call_s": med(engine_runs, "execute_call_s"),
            "median_before_first_task_s": med(engine_runs, "before_first_task_s"),
            "median_tasks_span_s": med(engine_runs, "tasks_span_s"),
            "median_after_last_task_s": med(engine_runs, "after_last_task_s"),
            "median_runner_seconds": med(engine_runs, "runner_seconds"),
            "median_runner_dynamodb_seconds": med(engine_runs, "runner_dynamodb_seconds"),
            "runner_dynamodb_requests": engine_runs[-1]["runner_dynamodb_requests"],
            "runner_invocations": engine_runs[-1]["runner_invocations"],
            "cold_wall_s": engine_runs[0]["wall_s"],
            "history_events": engine_events,
            "definition_bytes": len(engine_definition.encode()),
            "moto_parse_s": moto_parse_seconds(engine_definition) if engine_definition else None,
            "runs": engine_runs,
        },
        "hand_written": {
            "median_wall_s": h_wall,
            "median_record_s": h_rec,
            "median_cpu_s": h_cpu,
            "create_state_machine_s": create_s,
            "cold_wall_s": hand_runs[0]["wall_s"],
            "history_events": hand_events,
            "definition_bytes": len(hand_definition.encode()),
            "moto_parse_s": moto_parse_seconds(hand_definition),
            "runs": hand_runs,
        },
        "ratio_wall": e_wall / h_wall,
        "ratio_record": e_rec / h_rec,
        "ratio_cpu": e_cpu / h_cpu,
        "overhead_ms_per_task_wall": 1000 * (e_wall - h_wall) / n,
        "overhead_ms_per_task_record": 1000 * (e_rec - h_rec) / n,
        "overhead_cpu_ms_per_task": 1000 * (e_cpu - h_cpu) / n,
    }
    print(
        f"  {shape:5}: engine {e_wall * 1000:6.1f} ms, hand-written {h_wall * 1000:6.1f} ms,"
        f" ratio {result['ratio_wall']:.2f}",
        flush=True,
    )
    return result


def _load() -> list[float]:
    """1, 5 and 15 minute load averages: other processes on the machine skew wall times."""
    return [round(x, 2) for x in os.getloadavg()]


def print_end_to_end(result: dict[str, Any]) -> None:
    print()
    rows = []
    for shape, r in result["shapes"].items():
        e, h = r["engine"], r["hand_written"]
        rows.append(
            [
                f"{shape} of {result['tasks']}",
                e["median_wall_s"] * 1000,
                h["median_wall_s"] * 1000,
                f"{r['ratio_wall']:.2f}",
                r["overhead_ms_per_task_wall"],
                e["median_record_s"] * 1000,
                h["median_record_s"] * 1000,
                f"{r['ratio_record']:.2f}",
                e["median_cpu_s"] * 1000,
                h["median_cpu_s"] * 1000,
                f"{r['ratio_cpu']:.2f}",
                r["overhead_cpu_ms_per_task"],
            ]
        )
    print(
        table(
            [
                "workflow",
                "engine ms",
                "hand ASL ms",
                "ratio",
                "overhead ms/task",
                "engine rec. ms",
                "hand rec. ms",
                "rec. ratio",
                "engine CPU ms",
                "hand CPU ms",
                "CPU ratio",
                "CPU ms/task",
            ],
            rows,
        )
    )
    print(
        f"(median of {result['runs']} warm runs; wall = start call until the client's poll, every "
        f"{result['poll_seconds'] * 1000:.0f} ms, sees the end; rec. = the record's completedAt - startedAt "
        "/ Step Functions' stopDate - startDate; CPU = this process's CPU time, all threads, during the run; "
        f"load average {result['load_before']} before, {result['load_after']} after)"
    )
    print()
    rows = []
    for shape, r in result["shapes"].items():
        e, h = r["engine"], r["hand_written"]
        rows.append(
            [
                shape,
                e["median_execute_call_s"] * 1000,
                e["median_before_first_task_s"] * 1000,
                e["median_tasks_span_s"] * 1000,
                e["median_after_last_task_s"] * 1000,
                e["runner_invocations"],
                e["median_runner_seconds"] * 1000,
                sum(e["runner_dynamodb_requests"].values()),
                e["median_runner_dynamodb_seconds"] * 1000,
                e["history_events"] if e["history_events"] is not None else "-",
                h["history_events"],
                e["cold_wall_s"] * 1000,
                (h["cold_wall_s"] + h["create_state_machine_s"]) * 1000,
            ]
        )
    print(
        table(
            [
                "engine",
                "POST execute ms",
                "to 1st task ms",
                "tasks span ms",
                "last task to end ms",
                "runner calls",
                "in runner ms",
                "runner DDB reqs",
                "in DDB ms",
                "events",
                "hand events",
                "cold ms",
                "hand cold ms",
            ],
            rows,
        )
    )
    print(
        "(in runner = summed time inside the task runner Lambda (parallel calls add up); runner DDB = its "
        "DynamoDB requests and the time in moto's DynamoDB handler, waiting for the runtime's lock included; "
        "events = execution history events; cold = first run, which creates the state machine)"
    )
    print()
    print("moto's parse of the whole definition (ANTLR), paid once per machine (memoised by the runtime):")
    for shape, r in result["shapes"].items():
        for who, d in (("engine", r["engine"]), ("hand-written", r["hand_written"])):
            if d["moto_parse_s"] is not None:
                print(
                    f"  {shape:5} {who:12} {d['definition_bytes']:>9,} bytes"
                    f"  {d['moto_parse_s'] * 1000:7.1f} ms CPU"
                )
    probe = result.get("moto_parse_probe")
    if probe and probe["moto_parse_s"] is not None:
        print(
            f"  random-{probe['tasks']} noop  {probe['definition_bytes']:>9,} bytes  "
            f"{probe['moto_parse_s'] * 1000:7.1f} ms CPU"
            f"  (~{probe['moto_parse_s'] * 1e6 / probe['definition_bytes']:.1f} ms per KB)"
        )


# ------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs (~30 s)")
    parser.add_argument("--poll", type=float, help="seconds between status polls in (3) (default 0.02)")
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--skip-runtime", action="store_true", help="skip (2) and (3)")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    if args.poll:
        profile = replace(profile, poll=args.poll)
    began = time.perf_counter()
    print(f"load average {_load()} on {os.cpu_count()} CPUs (other processes skew wall-clock times)")
    results: dict[str, Any] = {
        "benchmark": "engine",
        "profile": "quick" if args.quick else "full",
        "environment": environment(),
    }
    if not args.skip_compile:
        print("1. compile + validate vs. topological sort", flush=True)
        results["compile"] = compile_benchmark(profile)
        print_compile(results["compile"])
    if not args.skip_runtime:
        with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
            runtime, api, timer = start_runtime(Path(tmp))
            try:
                print("\n2. makespan / critical path (sleep tasks in the embedded runtime)", flush=True)
                results["makespan"] = makespan_benchmark(profile, api)
                print_makespan(results["makespan"])
                print("\n3. end to end: engine vs. hand-written ASL in the same moto", flush=True)
                results["end_to_end"] = end_to_end_benchmark(profile, api, timer)
                print_end_to_end(results["end_to_end"])
            finally:
                runtime.close()
    results["elapsed_s"] = time.perf_counter() - began
    path = write_results("engine", results)
    print(f"\n{results['elapsed_s']:.0f} s; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
