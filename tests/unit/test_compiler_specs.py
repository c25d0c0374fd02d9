"""What the compiled runner states carry, so the task runner does not read the execution record
per task: the execution's context from the start step, each task's spec within a budget, and
each gate's count (pure, no AWS)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from orchestration_core.engine import compiler
from orchestration_core.engine.compiler import MAX_DEFINITION_BYTES, compile_definition
from orchestration_core.workflows.models import TaskDef

from tests.unit.test_compiler import RUNNER, random_dag, states_of, t


def runner_payloads(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The task runner's payload of every state that calls it, by state name."""
    found = {}
    for name, state in states_of(definition).items():
        params = state.get("Parameters") or {}
        params = params.get("Payload", params)
        if "action" in params:
            found[name] = params
    return found


def test_task_states_carry_the_execution_context_and_the_tasks_spec() -> None:
    tasks = [t("a", type_="http", url="https://example.com"), t("b", "a", type_="transform", expression="x")]
    payloads = runner_payloads(compile_definition(tasks, "runner", {}))
    assert payloads["a"]["spec"] == {
        "type": "http",
        "dependsOn": [],
        "config": {"url": "https://example.com"},
    }
    assert payloads["b"]["spec"] == {"type": "transform", "dependsOn": ["a"], "config": {"expression": "x"}}
    assert payloads["a"]["execution.$"] == "$.execution"
    states = states_of(compile_definition(tasks, "runner", {}))
    # A run state keeps the state as it is: the runner's answer is not the next state.
    assert states["a"]["ResultPath"] is None


def test_native_steps_carry_what_prepare_and_complete_need() -> None:
    tasks = [t("w", type_="wait", seconds=5), t("l", "w", type_="lambda", functionName="fn")]
    payloads = runner_payloads(compile_definition(tasks, "runner", {}))
    assert payloads["w"]["spec"]["type"] == "wait"
    assert payloads["done#0"]["result"] == {"waitedSeconds": 5}
    assert payloads["done#1"]["result.$"] == "$.output.result"
    assert payloads["done#1"]["spec"] == {"type": "lambda"}
    assert payloads["l"]["spec"]["dependsOn"] == ["w"]


def test_a_gate_carries_how_many_dependencies_hold_it() -> None:
    # The "N": c waits on a and b, d on a.
    tasks = [t("a"), t("b"), t("c", "a", "b"), t("d", "a")]
    payloads = runner_payloads(compile_definition(tasks, "runner", {}))
    assert payloads["await#2"]["gate"] == 2
    assert payloads["await#3"]["gate"] == 1
    assert "execution.$" not in payloads["await#2"]


def test_a_config_that_step_functions_would_read_as_a_path_stays_out() -> None:
    tasks = [t("a", **{"body": {"value.$": "$.secret"}}), t("b", **{"list": [{"x.$": "$"}]})]
    payloads = runner_payloads(compile_definition(tasks, "runner", {}))
    assert payloads["a"]["spec"] == {"type": "noop", "dependsOn": []}
    assert payloads["b"]["spec"] == {"type": "noop", "dependsOn": []}


def test_specs_past_the_budget_are_left_out_in_task_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler, "SPEC_BUDGET_BYTES", 10_000)
    tasks = [t(f"r{i}", payload="y" * 2_000) for i in range(8)]
    payloads = runner_payloads(compile_definition(tasks, "runner", {}))
    runs = {name: p for name, p in payloads.items() if p["action"] == "run"}
    carried = sorted(name for name, p in runs.items() if "config" in p["spec"])
    assert carried == ["r0", "r1", "r2", "r3"]
    # Types and dependencies come first: every task has them.
    assert all(p["spec"] == {"type": "noop", "dependsOn": [], **p["spec"]} for p in runs.values())


@pytest.mark.parametrize("type_", ["noop", "my-type"])
def test_specs_never_push_a_large_workflow_past_the_definition_limit(type_: str) -> None:
    # 500 tasks with 1 KB configs: the specs take what is left below three quarters of the
    # limit, and the definition stays under it.
    tasks = [
        TaskDef(x.name, type_, {"retry": {"maxAttempts": 2}, "pad": "p" * 1_000}, x.depends_on)
        for x in random_dag(500, 0.01, 7)
    ]
    functions = {"my-type": RUNNER.replace("TaskRunner", "MyType")}
    definition = compile_definition(tasks, RUNNER, functions)
    size = len(json.dumps(definition, separators=(",", ":")))
    assert size <= compiler.SPEC_DEFINITION_CEILING < MAX_DEFINITION_BYTES, size
    runs = [p for p in runner_payloads(definition).values() if p["action"] == "run"]
    assert len(runs) == 500
    assert 0 < sum("config" in p.get("spec", {}) for p in runs) < 500
