"""The four workloads, the task body every system runs, and the figures of one run (checked
from the recorded start and end of every task)."""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.engine.graphs import Graph, critical_path

OURS, PREFECT, DAGSTER = "this project", "Prefect", "Dagster"
DAGSTER_MP = "Dagster multiprocess"


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
