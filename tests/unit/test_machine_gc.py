"""The clean-up of unused state machines (orchestration_core.executions.machines) against a fake engine:
its limits per tick, where it goes on from, and what stops it. The clock is injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from orchestration_core.engine.stepfunctions import Engine
from orchestration_core.executions import machines as gc
from orchestration_core.executions.machines import MachineCollector
from orchestration_core.executions.models import Execution, ExecutionStatus
from orchestration_core.executions.usecases import Services
from orchestration_core.shared.errors import EngineThrottled

NOW = datetime(2026, 12, 1, tzinfo=UTC)
GRACE = timedelta(days=7)
OLD = NOW - timedelta(days=30)
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def name(i: int) -> str:
    return f"orch-{i:040x}"


class FakeEngine:
    prefix = "orch-"

    def __init__(self, names: list[str], page: int = gc.GC_PAGE) -> None:
        self.machines = {n: OLD for n in names}
        self.page = page
        self.deleted: list[str] = []
        self.fail_list: Exception | None = None

    def list_machines(self, token: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        if self.fail_list is not None:
            raise self.fail_list
        # The token is a position after a name (deleting machines does not shift it).
        names = [n for n in sorted(self.machines) if token is None or n > token]
        chunk = names[: self.page]
        rows = [{"name": n, "stateMachineArn": ARN + n, "creationDate": self.machines[n]} for n in chunk]
        return rows, (chunk[-1] if len(names) > self.page else None)

    def executions_of(self, arn: str, running_only: bool = False, limit: int = 1) -> list[dict[str, Any]]:
        return []

    def delete_machine(self, arn: str) -> None:
        n = arn.rsplit(":", 1)[1]
        del self.machines[n]
        self.deleted.append(n)


class FakeExecutions:
    def __init__(self, active: list[Execution] | None = None) -> None:
        self._active = active or []

    def active(self, shard: int) -> list[Execution]:
        return self._active if shard == 0 else []


def services(engine: FakeEngine, executions: FakeExecutions | None = None) -> Services:
    return Services(
        workflows=None,  # type: ignore[arg-type]
        executions=executions or FakeExecutions(),  # type: ignore[arg-type]
        registry=None,  # type: ignore[arg-type]
        engine=engine,  # type: ignore[arg-type]
        runner_arn="",
    )


def test_a_tick_deletes_at_most_its_share_and_the_next_ticks_finish_the_page() -> None:
    engine = FakeEngine([name(i) for i in range(12)])
    collector = MachineCollector()
    first = collector.collect(services(engine), NOW, GRACE)
    assert len(first.deleted) == gc.GC_MAX_DELETES and first.listed == 12
    ticks = 1
    while not collector.passes:
        report = collector.collect(services(engine), NOW, GRACE)
        assert len(report.deleted) <= gc.GC_MAX_DELETES
        ticks += 1
    assert engine.machines == {} and ticks == 3


def test_pages_are_gone_through_one_a_tick() -> None:
    engine = FakeEngine([name(i) for i in range(6)], page=2)
    collector = MachineCollector()
    for expected in (2, 2, 2):
        assert len(collector.collect(services(engine), NOW, GRACE).deleted) == expected
    assert collector.passes == 1 and engine.machines == {}


def test_young_and_foreign_machines_cost_nothing() -> None:
    engine = FakeEngine([name(1), "orch-b-" + "0" * 40, "other-" + "0" * 40, "orch-" + "A" * 40])
    engine.machines[name(1)] = NOW - timedelta(days=6)
    report = MachineCollector().collect(services(engine), NOW, GRACE)
    assert report.examined == 0 and report.deleted == [] and len(engine.machines) == 4


def test_a_refused_list_ends_the_tick_quietly() -> None:
    engine = FakeEngine([name(1)])
    engine.fail_list = EngineThrottled("Step Functions is throttling requests; retry shortly.")
    collector = MachineCollector()
    report = collector.collect(services(engine), NOW, GRACE)
    assert report.error and report.deleted == []
    engine.fail_list = None
    assert collector.collect(services(engine), NOW, GRACE).deleted == [name(1)]


def test_with_too_many_active_records_nothing_is_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc, "GC_MAX_ACTIVE", 2)
    active = [
        Execution(
            id=f"ex_{i}",
            tenant_id="t",
            workflow_id="wf",
            workflow_version=1,
            status=ExecutionStatus.RUNNING,
            tasks=(),
            parameters={},
            started_at="2026-12-01T00:00:00.000Z",
            state_machine_arn=ARN + name(99),
        )
        for i in range(3)
    ]
    engine = FakeEngine([name(1)])
    report = MachineCollector().collect(services(engine, FakeExecutions(active)), NOW, GRACE)
    assert report.deleted == [] and report.kept == {"too-many-active": 1}


class FakeSfn:
    """ListStateMachines whose tokens have expired (Step Functions keeps them 24 h)."""

    class meta:
        region_name = "us-east-1"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def list_state_machines(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if "nextToken" in kwargs:
            raise ClientError({"Error": {"Code": "InvalidToken", "Message": "expired"}}, "ListStateMachines")
        return {"stateMachines": [{"name": name(1)}]}


def test_an_expired_position_starts_again_from_the_first_page() -> None:
    sfn = FakeSfn()
    engine = Engine(sfn, "arn:aws:iam::123456789012:role/r")
    rows, token = engine.list_machines("stale", 50)
    assert rows == [{"name": name(1)}] and token is None
    assert sfn.calls == [{"maxResults": 50, "nextToken": "stale"}, {"maxResults": 50}]
