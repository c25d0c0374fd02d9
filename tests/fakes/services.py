"""The execution use cases' Services on the in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass

from orchestration_core.executions.usecases import Services

from tests.fakes.engine import FakeEngine, FakeRegistry
from tests.fakes.executions import FakeExecutionStore
from tests.fakes.workflows import FakeWorkflowStore

RUNNER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:runner"


@dataclass
class FakeServices(Services):
    """Services whose parts are the fakes, typed as such, so a test reaches their extras."""

    workflows: FakeWorkflowStore
    executions: FakeExecutionStore
    registry: FakeRegistry
    engine: FakeEngine


def fake_services(executions: FakeExecutionStore | None = None) -> FakeServices:
    return FakeServices(
        workflows=FakeWorkflowStore(),
        executions=executions or FakeExecutionStore(),
        registry=FakeRegistry(),
        engine=FakeEngine(),
        runner_arn=RUNNER_ARN,
    )
