"""State machine names carry the stack's prefix; the settings refuse one that cannot fit; the
task runner gives up on a task function before its own Lambda timeout."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode
from orchestration_core import services
from orchestration_core.engine.compiler import compile_definition, state_machine_name
from orchestration_core.engine.stepfunctions import Engine
from orchestration_core.shared.config import Settings
from orchestration_core.workflows.models import TaskDef

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
DEFINITION = compile_definition([TaskDef(name="a", type="noop")], "runner", {})


def resources() -> dict[str, Any]:
    doc, problems = decode(str(TEMPLATE))
    assert doc is not None and not problems
    resources: dict[str, Any] = doc["Resources"]
    return resources


def test_names_are_the_prefix_and_a_40_character_hash() -> None:
    name = state_machine_name(DEFINITION, "my-stack-")
    assert name.startswith("my-stack-") and len(name) == len("my-stack-") + 40
    assert name[len("my-stack-") :] == state_machine_name(DEFINITION)[len("orch-") :]
    assert len(state_machine_name(DEFINITION, "s" * 40)) == 80
    with pytest.raises(ValueError, match="1 to 40"):
        state_machine_name(DEFINITION, "s" * 41)


def test_the_settings_take_a_stack_prefix_that_fits_and_refuse_others() -> None:
    assert Settings(table_name="t").state_machine_prefix == "orch-"
    assert Settings(table_name="t", state_machine_prefix="a" * 39 + "-").state_machine_prefix.endswith("-")
    with pytest.raises(ValueError, match="at most 39 characters"):
        Settings(table_name="t", state_machine_prefix="a" * 40 + "-")
    with pytest.raises(ValueError, match="only letters, digits"):
        Settings(table_name="t", state_machine_prefix="my stack:")
    with pytest.raises(ValueError, match="ending in ':\\*'"):
        Settings(table_name="t", state_machine_log_group_arn="arn:aws:logs:us-east-1:1:log-group:x")


def test_an_execution_name_of_a_later_launch_fits_step_functions() -> None:
    # ex_ + 26 characters, and ".<n>" for a redrive or a renamed start: far under 80.
    assert len("ex_" + "0" * 26 + ".99999") <= 80


def test_the_iam_pattern_matches_this_stacks_machines_only() -> None:
    pattern = "orch-" + "?" * 40
    assert fnmatch.fnmatchcase(state_machine_name(DEFINITION, "orch-"), pattern)
    assert not fnmatch.fnmatchcase(state_machine_name(DEFINITION, "orch-b-"), pattern)


class FakeSfn:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_state_machine(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(("create", kwargs))
        return {"stateMachineArn": f"arn:aws:states:us-east-1:1:stateMachine:{kwargs['name']}"}


def test_the_engine_names_and_logs_machines_as_configured() -> None:
    sfn = FakeSfn()
    group = "arn:aws:logs:us-east-1:1:log-group:/aws/vendedlogs/states/s:*"
    engine = Engine(sfn, "arn:aws:iam::1:role/r", prefix="s-", log_group_arn=group, log_level="ALL")
    arn = engine.ensure_state_machine(DEFINITION)
    ((_, request),) = sfn.calls
    assert arn.endswith(f":stateMachine:{request['name']}") and request["name"].startswith("s-")
    assert request["loggingConfiguration"] == {
        "level": "ALL",
        "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group}}],
    }
    quiet = FakeSfn()
    Engine(quiet, "arn:aws:iam::1:role/r").ensure_state_machine(DEFINITION)
    assert "loggingConfiguration" not in quiet.calls[0][1]


def test_the_runner_stops_waiting_for_a_task_function_before_its_own_timeout() -> None:
    timeout = int(resources()["TaskRunnerFunction"]["Properties"]["Timeout"])
    assert timeout >= services.TASK_INVOKE_CONNECT_TIMEOUT + services.TASK_INVOKE_READ_TIMEOUT + 10


def test_the_template_names_machines_after_the_stack() -> None:
    doc, _ = decode(str(TEMPLATE))
    assert doc is not None
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    assert env["STATE_MACHINE_PREFIX"] == {"Fn::Sub": "${AWS::StackName}-"}
    assert env["TASK_FUNCTION_PREFIX"] == {"Ref": "TaskFunctionPrefix"}
    runner = resources()["TaskRunnerFunction"]["Properties"]["Environment"]["Variables"]
    assert runner["HTTP_TASK_ALLOWED_CIDRS"] == {"Ref": "HttpTaskAllowedCidrs"}
    assert "orch-*" not in TEMPLATE.read_text()
