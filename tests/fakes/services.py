"""The execution use cases' Services on the in-memory fakes."""

from __future__ import annotations

from orchestration_core.executions.usecases import Services

from tests.fakes.engine import FakeEngine, FakeRegistry
from tests.fakes.executions import FakeExecutionStore
from tests.fakes.workflows import FakeWorkflowStore

RUNNER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:runner"


def fake_services(executions: FakeExecutionStore | None = None) -> Services:
    return Services(
        workflows=FakeWorkflowStore(),  # type: ignore[arg-type]
        executions=executions or FakeExecutionStore(),  # type: ignore[arg-type]
        registry=FakeRegistry(),  # type: ignore[arg-type]
        engine=FakeEngine(),  # type: ignore[arg-type]
        runner_arn=RUNNER_ARN,
    )
