"""Pure logic of launching an execution again, and of settling its tasks once it ended."""

from __future__ import annotations

from dataclasses import replace

import pytest
from orchestration_core.engine.compiler import compile_definition
from orchestration_core.executions.models import Execution, ExecutionStatus, TaskRun
from orchestration_core.workflows.models import TaskDef, TaskStatus

TASKS = (
    TaskDef("a", "noop"),
    TaskDef("b", "noop", depends_on=("a",)),
    TaskDef("c", "noop", depends_on=("b",)),
    TaskDef("d", "noop", depends_on=("a",)),
)


def execution(status: ExecutionStatus, **runs: TaskRun) -> Execution:
    return Execution(
        id="ex_1",
        tenant_id="t",
        workflow_id="wf_1",
        workflow_version=1,
        status=status,
        tasks=TASKS,
        parameters={},
        started_at="2026-01-01T00:00:00.000Z",
        state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:orch-x",
        completed_at="2026-01-01T00:01:00.000Z" if status.terminal else None,
        runs=dict(runs),
    )


def test_an_ended_execution_settles_every_task() -> None:
    ex = execution(
        ExecutionStatus.CANCELLED,
        a=TaskRun("a", TaskStatus.COMPLETED, "t0", "t1", 1),
        b=TaskRun("b", TaskStatus.RUNNING, "t1", None, 1, wait_token="tok"),
        d=TaskRun("d", TaskStatus.PENDING),
    )
    runs = {r.name: r for r in ex.task_runs()}
    assert runs["a"].status == TaskStatus.COMPLETED
    assert runs["b"].status == TaskStatus.CANCELLED and runs["b"].completed_at == ex.completed_at
    assert runs["b"].wait_token is None and runs["b"].started_at == "t1"
    assert runs["c"].status == runs["d"].status == TaskStatus.SKIPPED
    assert runs["c"].started_at is None


def test_a_running_execution_shows_tasks_as_recorded() -> None:
    ex = execution(ExecutionStatus.RUNNING, b=TaskRun("b", TaskStatus.RUNNING, "t1"))
    assert [r.status for r in ex.task_runs()] == [
        TaskStatus.PENDING,
        TaskStatus.RUNNING,
        TaskStatus.PENDING,
        TaskStatus.PENDING,
    ]


@pytest.mark.parametrize(("sfn_name", "launch", "following"), [("", 1, "ex_1.2"), ("ex_1.2", 2, "ex_1.3")])
def test_each_launch_gets_the_next_name(sfn_name: str, launch: int, following: str) -> None:
    ex = replace(execution(ExecutionStatus.FAILED), sfn_name=sfn_name)
    assert ex.launch == launch and ex.next_launch_name() == following
    assert ex.sfn_execution_arn.endswith(f":execution:orch-x:{sfn_name or 'ex_1'}")


def test_native_steps_are_gone_round_when_an_earlier_launch_completed_the_task() -> None:
    tasks = [TaskDef("w", "wait", {"seconds": 5}), TaskDef("f", "lambda", {"functionName": "fn"}, ("w",))]
    states = compile_definition(tasks, "runner", {})["States"]["#run"]["Branches"][0]["States"]
    for i, name in enumerate(["w", "f"]):
        assert states[name]["Next"] == f"ran#{i}"
        choice = states[f"ran#{i}"]
        assert choice["Type"] == "Choice"
        assert choice["Choices"] == [{"Variable": "$.skip", "BooleanEquals": True, "Next": f"done#{i}"}]
    assert states["ran#0"]["Default"] == "wait#0" and states["ran#1"]["Default"] == "invoke#1"


def test_the_start_step_names_its_launch() -> None:
    start = compile_definition(list(TASKS), "runner", {})["States"]["#start"]
    assert start["Parameters"]["sfnName.$"] == "$$.Execution.Name"
