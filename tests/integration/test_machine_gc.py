"""Garbage collection of unused state machines (orchestration_core.executions.machines), on moto.

The machines here carry a prefix of their own (an Engine with another prefix, as another stack
would have), so the session's other machines are not this test's business; the clock is
injected: the collection runs "30 days later" with the default grace period of 7 days.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from orchestration_core import services
from orchestration_core.engine.stepfunctions import Engine
from orchestration_core.executions import usecases as executions
from orchestration_core.executions.machines import CollectReport, MachineCollector
from orchestration_core.executions.models import Execution, ExecutionStatus
from orchestration_core.executions.usecases import Services
from orchestration_core.shared import clock
from orchestration_core.shared.ids import new_id
from orchestration_core.workflows.models import TaskDef

from orchestration_local.runtime import Runtime
from tests.integration.conftest import Api, gate, wait_for

GRACE = timedelta(days=7)
LATER = timedelta(days=30)
PASS_DEFINITION = '{"StartAt":"p","States":{"p":{"Type":"Pass","End":true}}}'


class RecordingSfn:
    """The Step Functions client, recording each call's operation and machine ARN."""

    def __init__(self, sfn: Any) -> None:
        self.sfn = sfn
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.sfn, name)
        if not callable(real):
            return real

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, str(kwargs.get("stateMachineArn", ""))))
            return real(**kwargs)

        return call


@pytest.fixture
def prefix() -> str:
    return f"gc{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def svc(runtime: Runtime, prefix: str) -> Services:
    base = services.execution_services()
    return replace(base, engine=Engine(RecordingSfn(base.engine.sfn), base.engine.role_arn, prefix=prefix))


def collect_pass(svc: Services, later: timedelta = LATER) -> CollectReport:
    """Ticks of one collector until it went through the whole list once; their reports summed."""
    collector = MachineCollector()
    total = CollectReport()
    for _ in range(500):
        report = collector.collect(svc, clock.now() + later, GRACE)
        assert report.error is None, report.error
        total.examined += report.examined
        total.deleted += report.deleted
        for why, n in report.kept.items():
            total.kept[why] = total.kept.get(why, 0) + n
        if collector.passes:
            return total
    raise AssertionError("the collector never went through the whole list")


def machines(svc: Services) -> set[str]:
    pages = svc.engine.sfn.sfn.get_paginator("list_state_machines").paginate()
    return {m["stateMachineArn"] for page in pages for m in page["stateMachines"]}


def workflow(api: Api, tasks: list[dict[str, Any]]) -> str:
    status, _, wf = api.call("POST", "/workflows", {"name": "gc", "tasks": tasks})
    assert status == 201, wf
    return str(wf["id"])


def change_tasks(api: Api, workflow_id: str, tasks: list[dict[str, Any]]) -> None:
    status, _, wf = api.call("PUT", f"/workflows/{workflow_id}", {"tasks": tasks})
    assert status == 200 and wf["version"] > 1, wf


def run(svc: Services, api: Api, tenant: str, workflow_id: str, **parameters: Any) -> Execution:
    return executions.start_execution(svc, tenant, workflow_id, parameters)


def ended(svc: Services, api: Api, ex: Execution, timeout: float = 60.0) -> str:
    """Wait until the record and the Step Functions execution have both ended (the record is
    written by the machine's last steps, a moment before the machine itself stops); fail at
    the deadline. Returns the record's status."""
    status = str(wait_for(api, ex.id, timeout)["status"])
    deadline = time.monotonic() + timeout
    while svc.engine.describe(ex.sfn_execution_arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"the machine of {ex.id} never stopped"
        time.sleep(0.05)
    return status


def noop(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "type": "noop"}]


def test_a_machine_nothing_uses_is_deleted(svc: Services, api: Api, tenant: str) -> None:
    # Given a machine whose workflow moved on to another version, and one no execution ever used
    wid = workflow(api, noop(f"old-{tenant}"))
    old = run(svc, api, tenant, wid)
    assert ended(svc, api, old) == "completed"
    change_tasks(api, wid, noop(f"new-{tenant}"))
    unused = svc.engine.ensure_state_machine(executions._definition(svc, tenant, (noop_task(tenant),)))
    # When the dispatcher's collection runs after the grace period
    report = collect_pass(svc)
    # Then both are deleted, and the old execution is still readable from its record
    assert old.state_machine_arn not in machines(svc)
    assert unused not in machines(svc)
    assert len(report.deleted) == 2, report
    assert api.call("GET", f"/executions/{old.id}")[2]["status"] == "completed"


def noop_task(tenant: str) -> TaskDef:
    return TaskDef(name=f"never-{tenant}", type="noop")


def test_nothing_is_deleted_within_the_grace_period(svc: Services, api: Api, tenant: str) -> None:
    wid = workflow(api, noop(f"young-{tenant}"))
    ex = run(svc, api, tenant, wid)
    assert ended(svc, api, ex) == "completed"
    change_tasks(api, wid, noop(f"younger-{tenant}"))
    # Created and run now: six days later it is still within the grace period
    report = collect_pass(svc, later=timedelta(days=6))
    assert ex.state_machine_arn in machines(svc)
    assert report.examined == 0 and not report.deleted, report


def test_a_machine_with_a_running_execution_is_kept(svc: Services, api: Api, tenant: str) -> None:
    # Given a held execution and a newer one that completed, on a machine no longer current
    wid = workflow(api, [{"name": f"hold-{tenant}", "type": "gate"}])
    held_key, quick_key = uuid.uuid4().hex, uuid.uuid4().hex
    held = run(svc, api, tenant, wid, key=held_key)
    gate(held_key).wait_entered()
    gate(quick_key).open()
    quick = run(svc, api, tenant, wid, key=quick_key)
    assert ended(svc, api, quick) == "completed"
    change_tasks(api, wid, noop(f"after-{tenant}"))
    try:
        # When the collection runs: the machine stays (an older execution still runs)
        report = collect_pass(svc)
        assert held.state_machine_arn in machines(svc)
        assert report.kept == {"running": 1} and not report.deleted, report
    finally:
        gate(held_key).open()
    assert ended(svc, api, held) == "completed"
    # Once it ended, the next pass deletes the machine
    assert collect_pass(svc).deleted == [held.state_machine_arn.rsplit(":", 1)[1]]


def test_the_current_versions_machine_is_kept_and_recreated_if_gone(
    svc: Services, api: Api, tenant: str
) -> None:
    # Given a workflow whose current version ran once, long ago
    wid = workflow(api, noop(f"current-{tenant}"))
    first = run(svc, api, tenant, wid)
    assert ended(svc, api, first) == "completed"
    # When the collection runs: its machine is its current version's, and stays
    report = collect_pass(svc)
    assert first.state_machine_arn in machines(svc)
    assert report.kept == {"current": 1} and not report.deleted, report
    # And if it is deleted all the same (by hand), the next execute re-creates it
    svc.engine.sfn.delete_state_machine(stateMachineArn=first.state_machine_arn)
    second = run(svc, api, tenant, wid)
    assert second.state_machine_arn == first.state_machine_arn in machines(svc)
    assert ended(svc, api, second) == "completed"


def test_a_machine_a_pending_record_names_is_kept(svc: Services, api: Api, tenant: str) -> None:
    # Given a record written with its machine but not started yet (a start on its way, or a
    # crash between the write and the start that a replay will start)
    wid = workflow(api, noop(f"pending-{tenant}"))
    wf = svc.workflows.get(tenant, wid)
    assert wf is not None
    machine = svc.engine.ensure_state_machine(executions._definition(svc, tenant, wf.tasks))
    record = Execution(
        id=new_id("ex"),
        tenant_id=tenant,
        workflow_id=wid,
        workflow_version=wf.version,
        status=ExecutionStatus.PENDING,
        tasks=wf.tasks,
        parameters={},
        started_at=clock.now_iso(),
        state_machine_arn=machine,
    )
    svc.executions.create(record)
    try:
        report = collect_pass(svc)
        assert machine in machines(svc)
        assert report.kept == {"pending": 1}, report
    finally:
        svc.executions.transition(record, ExecutionStatus.FAILED, clock.now_iso(), None)


def test_another_stacks_machines_are_never_touched(svc: Services, prefix: str) -> None:
    sfn: RecordingSfn = svc.engine.sfn
    role = svc.engine.role_arn
    hex40 = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    # Another stack's, one whose stack name extends this one's, and one that only looks alike
    foreign = [f"other-{hex40}", f"{prefix}b-{hex40}", f"{prefix}{hex40.upper()}"]
    arns = [
        sfn.sfn.create_state_machine(name=n, definition=PASS_DEFINITION, roleArn=role)["stateMachineArn"]
        for n in foreign
    ]
    try:
        sfn.calls.clear()
        report = collect_pass(svc)
        assert set(arns) <= machines(svc)
        assert not [c for c in sfn.calls if c[1] in arns], sfn.calls
        assert report.examined == 0, report
    finally:
        for arn in arns:
            sfn.sfn.delete_state_machine(stateMachineArn=arn)


def test_a_tick_is_bounded(svc: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given more idle machines than a tick deletes
    from orchestration_core.executions import machines as gc

    made = [
        svc.engine.ensure_state_machine({"Comment": f"{i}-{uuid.uuid4().hex}", **_pass()})
        for i in range(gc.GC_MAX_DELETES + 2)
    ]
    collector = MachineCollector()
    deleted: list[str] = []
    reports: list[CollectReport] = []
    # When ticks run: each deletes at most GC_MAX_DELETES, and the next ticks finish the page
    while not collector.passes:
        report = collector.collect(svc, clock.now() + LATER, GRACE)
        assert len(report.deleted) <= gc.GC_MAX_DELETES and report.examined <= gc.GC_MAX_EXAMINED
        deleted += report.deleted
        reports.append(report)
        assert len(reports) < 500
    assert not set(made) & machines(svc)
    assert sorted(deleted) == sorted(a.rsplit(":", 1)[1] for a in made)


def _pass() -> dict[str, Any]:
    return {"StartAt": "p", "States": {"p": {"Type": "Pass", "End": True}}}
