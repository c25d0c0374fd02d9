"""The engine benchmark's sizes and task graphs: seeded random DAGs, nested fork-joins, the N
shape, and their critical path."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

# Step Functions' quota on a state machine definition (CreateStateMachine rejects larger ones).
DEFINITION_LIMIT = 1024 * 1024
# What !GetAtt TaskRunnerFunction.Arn looks like once deployed (CloudFormation-generated name):


# the runner's ARN is repeated in several states per task, so its length matters for the size.
DEPLOYED_RUNNER_ARN = (
    "arn:aws:lambda:eu-central-1:123456789012:function:orchestration-TaskRunnerFunction-Xq3vB7nK2mPa"
)


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
        from orchestration_core.workflows.models import TaskDef

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
    from orchestration_core.engine.compiler import is_series_parallel

    return is_series_parallel(graph.taskdefs())


def critical_path(graph: Graph, durations: Sequence[float]) -> float:
    finish: list[float] = []
    for i, deps in enumerate(graph.deps):  # deps are earlier tasks: index order is topological
        finish.append(max((finish[d] for d in deps), default=0.0) + durations[i])
    return max(finish)
