"""This project's embedded runtime side by side with Prefect 3 and Dagster, in one run.

Four workloads, the same task body in each system (sleep S seconds, record start and end with
``time.perf_counter`` in this process):

  1. chain: 10 tasks in a chain, S=0: wall time and overhead per task
  2. fork: 1 -> 8 -> 1, S=0: wall time
  3. N: a->c, b->c, b->d, S=0.2: makespan / critical path (1.00 is exact)
  4. random-50: 50-task random DAG (seed 7), S=0.05: makespan / critical path

Systems, each started once and warmed up with one untimed run of every workload:

  - this project: the embedded runtime in this process (bench.engine's harness), workflows
    created and executed through the API gateway emulation; the task body is a custom task
    type, i.e. a Lambda function the compiled state machine invokes
  - Prefect 3: a flow that ``.submit()``s every task with ``wait_for=`` its dependencies, on a
    ``ThreadPoolTaskRunner`` with one thread per task, against Prefect's ephemeral local API
    (a server subprocess on loopback with SQLite, unless PREFECT_API_URL is set)
  - Dagster: one op per task, ``Nothing`` inputs for the dependencies, ``execute_in_process``
    (in-process executor: ops run one at a time in this process; no server, ephemeral
    instance)

Every run is checked from the recorded timestamps: each task ran exactly once and started
after all its dependencies ended (otherwise the benchmark stops with an error). Runs alternate
between the systems (each first in turn), so load from other processes hits all alike, and
after every run the benchmark waits until this process and its children are quiet (Prefect's
client and server go on working after a flow returns); medians are reported. CPU time is
counted for this process (all threads) and for its child processes (Prefect's server).

    python -m bench.peers            # 5 repeats, a few minutes
    python -m bench.peers --quick    # 2 repeats
    python -m bench.peers --dagster-multiprocess   # also Dagster's multiprocess executor (slow)

The last line printed is the headline: this project's makespan / critical path on the 50-task
DAG divided by Prefect's, both measured in this run. Results: bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bench._util import REPO, environment, table, write_results
from bench.engine import (
    CUSTOM_FUNCTIONS,
    Api,
    Graph,
    critical_path,
    engine_execution_arn,
    history_events,
    start_runtime,
)

OURS, PREFECT, DAGSTER = "this project", "Prefect", "Dagster"
DAGSTER_MP = "Dagster multiprocess"


# ----------------------------------------------------------------------------------- workloads
@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    graph: Graph
    seconds: float  # S: how long every task sleeps

    @property
    def critical_path_s(self) -> float:
        return critical_path(self.graph, [self.seconds] * self.graph.size)


def chain(n: int) -> Graph:
    return Graph(f"chain-{n}", tuple((i - 1,) if i else () for i in range(n)))


def fork(width: int) -> Graph:
    """One task, ``width`` tasks that depend on it, one task that depends on all of them."""
    return Graph(f"fork-1-{width}-1", ((), *(((0,),) * width), tuple(range(1, width + 1))))


def n_shape() -> Graph:
    # a=0, b=1, c=2, d=3: a->c, b->c, b->d. d must not wait for c (nor for a).
    return Graph("N", ((), (), (0, 1), (1,)))


def random_dag(n: int, seed: int, max_deps: int = 4) -> Graph:
    """Each task depends on 0..max_deps distinct random earlier tasks (50 tasks, seed 7: 95 edges)."""
    rng = random.Random(seed)
    deps = tuple(tuple(sorted(rng.sample(range(i), rng.randint(0, min(max_deps, i))))) for i in range(n))
    return Graph(f"random-{n}", deps)


WORKLOADS = (
    Workload("chain", "10-task chain, S=0", chain(10), 0.0),
    Workload("fork", "1->8->1 fork, S=0", fork(8), 0.0),
    Workload("n", "N graph, S=0.2", n_shape(), 0.2),
    Workload("random50", "50-task random DAG (seed 7), S=0.05", random_dag(50, 7), 0.05),
)


# ------------------------------------------------------------------------- the shared task body
class Recorder:
    """Start and end of every task body, by task name, for the run in progress."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: dict[str, list[tuple[float, float]]] = {}
        self.expected = 0
        self.all_done = threading.Event()

    def reset(self, expected: int) -> None:
        with self.lock:
            self.spans = {}
            self.expected = expected
            self.all_done.clear()

    def body(self, name: str, seconds: float) -> None:
        """The task body every system runs."""
        start = time.perf_counter()
        if seconds > 0:
            time.sleep(seconds)
        end = time.perf_counter()
        with self.lock:
            self.spans.setdefault(name, []).append((start, end))
            if sum(len(s) for s in self.spans.values()) >= self.expected:
                self.all_done.set()


RECORDER = Recorder()


def task_body(name: str, seconds: float) -> None:
    RECORDER.body(name, seconds)


def check_order(system: str, workload: Workload) -> tuple[list[float], list[float]]:
    """Each task ran once and started after all its dependencies ended; raises otherwise."""
    graph = workload.graph
    spans = dict(RECORDER.spans)
    names = [graph.task_name(i) for i in range(graph.size)]
    problems = [f"{n} ran {len(spans.get(n, []))} times" for n in names if len(spans.get(n, [])) != 1]
    problems += [f"unknown task {n}" for n in spans if n not in names]
    if problems:
        raise RuntimeError(f"{system}, {workload.key}: " + "; ".join(problems))
    starts = [spans[n][0][0] for n in names]
    ends = [spans[n][0][1] for n in names]
    for i, deps in enumerate(graph.deps):
        for d in deps:
            if starts[i] < ends[d]:
                raise RuntimeError(
                    f"{system}, {workload.key}: DEPENDENCY ORDER VIOLATED: {names[i]} started "
                    f"{(ends[d] - starts[i]) * 1000:.3f} ms before its dependency {names[d]} ended"
                )
    return starts, ends


def children_cpu_s() -> float:
    """CPU seconds of this process's child processes: those that ended and were waited for
    (os.times: Dagster's multiprocess op processes) and those still running (Prefect's local
    API server, from /proc)."""
    times = os.times()
    total, pending = times.children_user + times.children_system, [os.getpid()]
    seen: set[int] = set()
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    while pending:
        pid = pending.pop()
        try:
            children = {
                int(c)
                for t in Path(f"/proc/{pid}/task").iterdir()
                for c in (t / "children").read_text().split()
            }
        except OSError:
            continue
        for child in children - seen:
            seen.add(child)
            pending.append(child)
            try:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def settle(interval: float = 0.2, timeout: float = 15.0) -> float:
    """Wait until this process and its children use under 10% of a core (Prefect's client and
    server go on working after a flow returns), so that the next run, of any system, starts on
    a quiet machine and a run's CPU includes its tail. Returns the seconds waited."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        before = time.process_time() + children_cpu_s()
        time.sleep(interval)
        if time.process_time() + children_cpu_s() - before < 0.1 * interval:
            break
    return time.perf_counter() - began


def submit_clock() -> tuple[float, float, float]:
    return time.perf_counter(), time.process_time(), children_cpu_s()


def measure(
    system: str, workload: Workload, run: Callable[[], float], submitted: tuple[float, float, float]
) -> dict[str, Any]:
    """Figures of one run; ``run`` returns when the client knows the run has ended.
    ``submitted``: perf_counter, this process's and its children's CPU time when it was asked for."""
    ended = run()
    settle_s = settle()
    cpu = time.process_time() - submitted[1]
    children_cpu = children_cpu_s() - submitted[2]
    submitted_at = submitted[0]
    starts, ends = check_order(system, workload)
    graph = workload.graph
    dispatch = [starts[i] - max(ends[d] for d in deps) for i, deps in enumerate(graph.deps) if deps]
    makespan = max(ends) - min(starts)
    cp = workload.critical_path_s
    return {
        "wall_s": ended - submitted_at,
        "cpu_s": cpu,
        "children_cpu_s": children_cpu,
        "settle_s": settle_s,
        "makespan_s": makespan,
        "ratio": makespan / cp if cp > 0 else None,
        "to_first_task_s": min(starts) - submitted_at,
        "after_last_task_s": ended - max(ends),
        "dispatch_ms_mean": 1000 * statistics.fmean(dispatch) if dispatch else None,
        "dispatch_ms_max": 1000 * max(dispatch) if dispatch else None,
    }


# ------------------------------------------------------------------------------------ systems
class System:
    name = ""
    setup = ""

    def prepare(self, workload: Workload) -> None:
        raise NotImplementedError

    def run(self, workload: Workload) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Ours(System):
    """The embedded runtime in this process, driven through the API gateway emulation."""

    name = OURS
    setup = (
        "embedded runtime in this process (moto: Step Functions interpreter, DynamoDB, Lambda), "
        "task body = a custom task type's Lambda function; client waits for the last task body, "
        "then polls GET /executions/{id} every 5 ms"
    )

    def __init__(self, workdir: Path) -> None:
        import boto3

        from orchestration_local import aws

        self.runtime, self.api, self.timer = start_runtime(workdir)
        aws.register_lambda(CUSTOM_FUNCTIONS["sleep"], self._task)  # the shared body, not engine's
        self.uninstall = self.timer.install_dynamodb_counter()
        self.sfn = boto3.client("stepfunctions", region_name="us-east-1")
        self.workflows: dict[str, str] = {}

    @staticmethod
    def _task(event: dict[str, Any]) -> dict[str, Any]:
        config = event["config"]
        task_body(str(config["task"]), float(config["seconds"]))
        return {}

    def prepare(self, workload: Workload) -> None:
        graph = workload.graph
        tasks = [
            {
                "name": graph.task_name(i),
                "type": "sleep",
                "config": {"task": graph.task_name(i), "seconds": workload.seconds},
                "dependsOn": [graph.task_name(d) for d in deps],
            }
            for i, deps in enumerate(graph.deps)
        ]
        self.workflows[workload.key] = self.api.create(f"bench-peers-{workload.key}", tasks)

    def run(self, workload: Workload) -> dict[str, Any]:
        api: Api = self.api
        RECORDER.reset(workload.graph.size)
        self.timer.reset()
        submitted = submit_clock()
        execution_id = api.execute(self.workflows[workload.key])

        def wait() -> float:
            RECORDER.all_done.wait(timeout=120)
            ex = api.wait(execution_id, poll=0.005)
            if ex["status"] != "completed":
                raise RuntimeError(f"{OURS}, {workload.key}: execution {ex['status']}: {ex.get('error')}")
            return time.perf_counter()

        figures = measure(OURS, workload, wait, submitted)
        # Where the time went, read after the run: the task runner Lambda (summed over parallel
        # calls), its DynamoDB requests, and the execution's Step Functions history events.
        figures["runner_calls"] = self.timer.calls
        figures["runner_s"] = self.timer.seconds
        figures["runner_dynamodb_requests"] = sum(self.timer.dynamodb.values())
        figures["runner_dynamodb_s"] = self.timer.dynamodb_seconds
        arn = engine_execution_arn(self.sfn, execution_id)
        figures["history_events"] = history_events(self.sfn, arn) if arn else None
        return figures

    def close(self) -> None:
        self.uninstall()
        self.runtime.close()


class Prefect(System):
    name = PREFECT
    setup = (
        "flow with every task .submit()ted, wait_for= its dependencies, ThreadPoolTaskRunner with "
        "one thread per task; ephemeral local API (server subprocess, SQLite); logging level WARNING"
    )

    def __init__(self, home: Path) -> None:
        # Before prefect is imported: its settings are read at import.
        os.environ.setdefault("PREFECT_HOME", str(home))
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
        from prefect import flow, task  # type: ignore[import-not-found,unused-ignore]
        from prefect.task_runners import ThreadPoolTaskRunner  # type: ignore[import-not-found,unused-ignore]

        # Any: prefect's overloads are not what this module checks.
        self.flow: Any = flow
        self.task: Any = task
        self.runner: Any = ThreadPoolTaskRunner
        self.flows: dict[str, Any] = {}
        self.api_url = os.environ.get("PREFECT_API_URL") or "ephemeral"

    def prepare(self, workload: Workload) -> None:
        graph = workload.graph
        seconds = workload.seconds
        body = self.task(name="body")(task_body)

        def run_graph() -> None:
            futures: list[Any] = []
            for i, deps in enumerate(graph.deps):
                name = graph.task_name(i)
                futures.append(
                    body.with_options(task_run_name=name).submit(
                        name, seconds, wait_for=[futures[d] for d in deps]
                    )
                )
            for future in futures:
                future.result()

        self.flows[workload.key] = self.flow(
            run_graph, name=f"peers-{workload.key}", task_runner=self.runner(max_workers=graph.size)
        )

    def run(self, workload: Workload) -> dict[str, Any]:
        RECORDER.reset(workload.graph.size)
        submitted = submit_clock()

        def call() -> float:
            self.flows[workload.key]()
            return time.perf_counter()

        return measure(PREFECT, workload, call, submitted)


class Dagster(System):
    name = DAGSTER
    setup = (
        "one op per task, Nothing inputs for dependencies, job.execute_in_process: in-process "
        "executor (ops one at a time), ephemeral instance, no server; console log level ERROR"
    )
    RUN_CONFIG: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}

    def __init__(self) -> None:
        import dagster  # type: ignore[import-not-found,unused-ignore]

        self.dg: Any = dagster
        self.instance = dagster.DagsterInstance.ephemeral()
        self.jobs: dict[str, Any] = {}

    def _op(self, name: str, deps: list[str], seconds: float) -> Any:
        dg = self.dg

        def task_op() -> None:
            task_body(name, seconds)

        return dg.op(name=name, ins={d: dg.In(dg.Nothing) for d in deps})(task_op)

    def prepare(self, workload: Workload) -> None:
        graph = workload.graph
        names = [graph.task_name(i) for i in range(graph.size)]
        ops = [
            self._op(names[i], [names[d] for d in deps], workload.seconds)
            for i, deps in enumerate(graph.deps)
        ]

        def the_job() -> None:
            outs: list[Any] = []
            for i, deps in enumerate(graph.deps):
                outs.append(ops[i](**{names[d]: outs[d] for d in deps}))

        self.jobs[workload.key] = self.dg.job(name=f"peers_{workload.key}")(the_job)

    def run(self, workload: Workload) -> dict[str, Any]:
        RECORDER.reset(workload.graph.size)
        submitted = submit_clock()

        def call() -> float:
            result = self.jobs[workload.key].execute_in_process(
                run_config=self.RUN_CONFIG, instance=self.instance
            )
            if not result.success:
                raise RuntimeError(f"{DAGSTER}, {workload.key}: run failed")
            return time.perf_counter()

        return measure(DAGSTER, workload, call, submitted)


class DagsterMultiprocess(System):
    """Opt-in (--dagster-multiprocess): Dagster's parallel executor, which needs a persistent
    instance and a job every op's process can rebuild (bench/_peers_dagster.py)."""

    name = DAGSTER_MP
    setup = (
        "the same ops, dagster.execute_job with the multiprocess executor (a new process per op, "
        "default concurrency = CPU count), persistent instance in a temporary directory; ops "
        "record their times in files"
    )

    def __init__(self, workdir: Path) -> None:
        import dagster  # type: ignore[import-not-found,unused-ignore]

        self.dg: Any = dagster
        logging.getLogger("dagster").setLevel(logging.WARNING)  # one DEBUG line per op process
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "instance").mkdir()
        self.instance = dagster.DagsterInstance.local_temp(str(workdir / "instance"))
        self.jobs: dict[str, tuple[Any, Path]] = {}

    def prepare(self, workload: Workload) -> None:
        record_dir = self.workdir / f"spans-{workload.key}"
        record_dir.mkdir()
        args = (f"peers_mp_{workload.key}", [list(d) for d in workload.graph.deps], workload.seconds)
        job = self.dg.build_reconstructable_job(
            "bench._peers_dagster",
            "make_job",
            reconstructable_args=(*args, str(record_dir)),
            reconstructor_working_directory=str(REPO),  # where each op's process imports bench from
        )
        self.jobs[workload.key] = (job, record_dir)

    def run(self, workload: Workload) -> dict[str, Any]:
        from bench._peers_dagster import read_spans

        job, record_dir = self.jobs[workload.key]
        for path in record_dir.iterdir():
            path.unlink()
        RECORDER.reset(workload.graph.size)
        submitted = submit_clock()

        def call() -> float:
            with self.dg.execute_job(
                job, instance=self.instance, run_config=Dagster.RUN_CONFIG, raise_on_error=True
            ) as result:
                if not result.success:
                    raise RuntimeError(f"{DAGSTER_MP}, {workload.key}: run failed")
            ended = time.perf_counter()
            RECORDER.spans = read_spans(str(record_dir))
            return ended

        return measure(DAGSTER_MP, workload, call, submitted)

    def close(self) -> None:
        self.instance.dispose()


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


# --------------------------------------------------------------------------------------- main
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    print(f"load average {[round(x, 2) for x in os.getloadavg()]} on {os.cpu_count()} CPUs", flush=True)
    versions = {
        "orchestration": environment().get("commit"),
        "moto": version("moto"),
        "prefect": version("prefect"),
        "dagster": version("dagster"),
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
        print("50-task makespan/critical path, this project / Prefect: n/a (Prefect not measured)")
    else:
        print(
            f"50-task makespan/critical path, this project / Prefect: {headline:.2f} "
            f"({ours:.2f} / {prefect:.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
