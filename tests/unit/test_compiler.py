"""The compiler: series-parallel decomposition and the ASL it emits (pure, no AWS)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from orchestration_core.engine.compiler import (
    MAX_DEFINITION_BYTES,
    Gated,
    Leaf,
    Series,
    Together,
    compile_definition,
    is_series_parallel,
    plan,
    state_machine_name,
)
from orchestration_core.workflows.models import TaskDef


def t(name: str, *deps: str, type_: str = "noop", **config: Any) -> TaskDef:
    return TaskDef(name=name, type=type_, config=config, depends_on=deps)


def states_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state of the machine, at any depth of Parallel nesting."""
    found: dict[str, dict[str, Any]] = {}

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            assert name not in found, f"duplicate state name {name}"
            found[name] = state
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(definition["States"])
    return found


def test_chain_is_a_series() -> None:
    assert plan([t("e"), t("t", "e"), t("l", "t")]) == Series((Leaf(0), Leaf(1), Leaf(2)))


def test_diamond_is_series_of_parallel() -> None:
    tasks = [t("a"), t("b", "a"), t("c", "a"), t("d", "b", "c")]
    assert plan(tasks) == Series((Leaf(0), Together((Leaf(1), Leaf(2))), Leaf(3)))
    assert is_series_parallel(tasks)


def test_independent_tasks_run_together() -> None:
    assert plan([t("a"), t("b"), t("c", "b")]) == Together((Leaf(0), Series((Leaf(1), Leaf(2)))))


def test_the_n_shape_is_not_series_parallel_and_is_gated() -> None:
    tasks = [t("a"), t("b"), t("c", "a", "b"), t("d", "a")]
    assert isinstance(plan(tasks), Gated) and sorted(plan(tasks).tasks) == [0, 1, 2, 3]  # type: ignore[union-attr]
    assert not is_series_parallel(tasks)
    states = states_of(compile_definition(tasks, "runner", {}))
    gates = {n for n, s in states.items() if s.get("Resource", "").endswith(".waitForTaskToken")}
    assert gates == {"await#2", "await#3"}  # only tasks with dependencies inside the part wait
    assert states["a"]["Parameters"]["notify"] == ["c", "d"]
    assert states["b"]["Parameters"]["notify"] == ["c"]


def test_nested_series_parallel_has_no_gates() -> None:
    # (a -> (b | (c -> d))) -> e
    tasks = [t("a"), t("b", "a"), t("c", "a"), t("d", "c"), t("e", "b", "d")]
    assert is_series_parallel(tasks)
    states = states_of(compile_definition(tasks, "runner", {}))
    assert not any(s.get("Resource", "").endswith(".waitForTaskToken") for s in states.values())


def test_transitive_edges_do_not_break_series_parallel() -> None:
    # c depends on a directly and through b: still a chain a -> b -> c.
    assert plan([t("a"), t("b", "a"), t("c", "a", "b")]) == Series((Leaf(0), Leaf(1), Leaf(2)))


def test_retry_and_timeout_compile_to_asl() -> None:
    task = t("x", retry={"maxAttempts": 3, "intervalSeconds": 2, "backoffRate": 1.5}, timeoutSeconds=30)
    state = states_of(compile_definition([task], "runner", {}))["x"]
    assert state["TimeoutSeconds"] == 30
    assert state["Retry"][-1] == {
        "ErrorEquals": ["States.ALL"],
        "MaxAttempts": 3,
        "IntervalSeconds": 2,
        "BackoffRate": 1.5,
    }
    assert state["Catch"][0]["Next"] == "failed#0"
    assert state["Parameters"]["attempt.$"] == "$$.State.RetryCount"
    states = states_of(compile_definition([task], "runner", {}))
    assert states["failed#0"]["Parameters"] == {"task": "x", "attempts": 4, "error.$": "$.error"}
    assert states["fail#0"] == {"Type": "Fail", "Error": "TaskFailed", "CausePath": "States.JsonToString($)"}


def test_native_types_compile_to_native_states() -> None:
    tasks = [
        t("w", type_="wait", seconds=5),
        t("l", "w", type_="lambda", functionName="fn"),
        t("c", "l", type_="my-type"),
    ]
    states = states_of(compile_definition(tasks, "runner", {"my-type": "arn:custom"}))
    assert states["wait#0"] == {"Type": "Wait", "Seconds": 5, "Next": "done#0"}
    assert states["invoke#1"]["Parameters"] == {"FunctionName": "fn", "Payload.$": "$.input"}
    # Custom types run inside the task runner, which invokes their function.
    assert states["c"]["Parameters"]["function"] == "arn:custom"
    assert states["c"]["Parameters"]["action"] == "run"


def test_names_are_content_addressed() -> None:
    one = compile_definition([t("a"), t("b", "a")], "runner", {})
    same = compile_definition([t("a"), t("b", "a")], "runner", {})
    other = compile_definition([t("a"), t("b")], "runner", {})
    assert state_machine_name(one) == state_machine_name(same) != state_machine_name(other)
    assert len(state_machine_name(one)) <= 80


def random_dag(n: int, p: float, seed: int) -> list[TaskDef]:
    rng = random.Random(seed)
    return [t(f"t{i}", *[f"t{j}" for j in range(i) if rng.random() < p]) for i in range(n)]


@pytest.mark.parametrize("seed", range(25))
def test_every_plan_covers_each_task_once_and_respects_dependencies(seed: int) -> None:
    tasks = random_dag(18, 0.15, seed)
    tree = plan(tasks)
    seen: list[int] = []

    def leaves(p: Any) -> list[int]:
        if isinstance(p, Leaf):
            return [p.task]
        if isinstance(p, Gated):
            return list(p.tasks)
        return [x for q in p.parts for x in leaves(q)]

    seen = leaves(tree)
    assert sorted(seen) == list(range(len(tasks)))

    # Series parts: every task of a later part depends (transitively) on every earlier one.
    index = {x.name: i for i, x in enumerate(tasks)}
    ancestors: list[set[int]] = []
    for x in tasks:
        found: set[int] = set()
        for d in x.depends_on:
            found |= {index[d]} | ancestors[index[d]]
        ancestors.append(found)

    def check(p: Any) -> None:
        if isinstance(p, Series):
            for k in range(1, len(p.parts)):
                earlier = {x for q in p.parts[:k] for x in leaves(q)}
                for later in (x for q in p.parts[k:] for x in leaves(q)):
                    assert earlier <= ancestors[later]
        if isinstance(p, Series | Together):
            for q in p.parts:
                check(q)

    check(tree)
    definition = compile_definition(tasks, "runner", {})
    names = states_of(definition)
    assert all(len(name) <= 80 for name in names)


RUNNER = (
    "arn:aws:lambda:eu-central-1:123456789012:function:"
    + "orchestration-production-TaskRunnerFunction-AbCdEfGh1234"
)


@pytest.mark.parametrize("type_", ["noop", "my-type"])
def test_five_hundred_tasks_fit_step_functions_definition_limit(type_: str) -> None:
    # The API accepts up to 500 tasks; their machine must fit Step Functions' 1 MiB quota even
    # when every task is a custom type (three states each) and the runner ARN is long.
    tasks = [
        TaskDef(x.name, type_, {"retry": {"maxAttempts": 2}}, x.depends_on) for x in random_dag(500, 0.01, 7)
    ]
    functions = {"my-type": RUNNER.replace("TaskRunner", "MyType")}
    definition = compile_definition(tasks, RUNNER, functions)
    size = len(json.dumps(definition, separators=(",", ":")))
    assert size < MAX_DEFINITION_BYTES, size
    runs = [s for s in states_of(definition).values() if s.get("Parameters", {}).get("task")]
    assert len({s["Parameters"]["task"] for s in runs}) == 500
