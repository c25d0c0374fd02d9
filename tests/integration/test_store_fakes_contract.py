"""The in-memory fakes of tests/fakes against the real stores on moto: one scenario per store,
run on both, must tell the same story (conditional outcomes, what each intent write answers,
the page shape), so a fast unit test on a fake means what it would mean on DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from orchestration_core.executions.models import Execution, ExecutionStatus, TaskRun
from orchestration_core.executions.store import ExecutionStore, active_shard
from orchestration_core.schedules.models import Schedule
from orchestration_core.shared.ids import new_id
from orchestration_core.shared.pagination import decode_cursor
from orchestration_core.shared.table import ConditionFailed
from orchestration_core.workflows.models import TaskDef, Workflow, WorkflowStatus

from orchestration_local.runtime import Runtime
from tests.fakes import FakeExecutionStore, FakeScheduleStore, FakeWorkflowStore

STAMP = "2026-03-02T09:00:00.000Z"


def _outcome(step: Callable[[], Any]) -> Any:
    try:
        return ("ok", step())
    except ConditionFailed as err:
        return ("ConditionFailed", err.index)


def _workflow(tenant: str, n: int) -> Workflow:
    return Workflow(
        id=new_id("wf", 1_700_000_000_000 + n),
        tenant_id=tenant,
        name=f"w{n}",
        description="",
        status=WorkflowStatus.ACTIVE,
        tasks=(TaskDef(name="a", type="noop", config={}, depends_on=()),),
        version=1,
        revision=1,
        created_at=STAMP,
        updated_at=STAMP,
    )


def workflow_story(store: Any, tenant: str) -> list[Any]:
    made = [_workflow(tenant, n) for n in range(3)]
    names = {wf.id: f"#{n}" for n, wf in enumerate(made)}
    story: list[Any] = [_outcome(lambda wf=wf: store.create(wf)) for wf in made]
    story.append(_outcome(lambda: store.create(made[0])))
    v2 = made[0].with_changes(name="v2", revision=2)
    story.append(_outcome(lambda: store.replace(made[0], v2)))
    story.append(_outcome(lambda: store.replace(made[0], made[0].with_changes(name="stale", revision=2))))
    story.append(_outcome(lambda: store.delete(made[1])))
    story.append(_outcome(lambda: store.delete(made[0])))  # stale revision
    stored = store.get(tenant, made[0].id)
    story.append((stored.name, stored.revision))
    first = store.page(tenant, None, 1, 0)
    rest = store.page(tenant, None, 5, decode_cursor(first.next_token))
    for page in (first, rest, store.page(tenant, "active", 5, 1), store.page(tenant, "draft", 5, 0)):
        story.append(
            (
                [names[w.id] for w in page.items],
                page.total,
                page.limit,
                page.offset,
                page.next_token is not None,
            )
        )
    return story


def _execution(tenant: str) -> Execution:
    return Execution(
        id=new_id("ex"),
        tenant_id=tenant,
        workflow_id=new_id("wf"),
        workflow_version=1,
        status=ExecutionStatus.PENDING,
        tasks=(
            TaskDef(name="a", type="noop", config={}, depends_on=()),
            TaskDef(name="c", type="noop", config={}, depends_on=("a",)),
        ),
        parameters={"x": 1},
        started_at=STAMP,
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:m",
    )


def _run(run: TaskRun | None) -> Any:
    return None if run is None else replace(run)


def execution_story(store: Any, tenant: str) -> list[Any]:
    ex = _execution(tenant)
    twin = replace(ex, id=new_id("ex"))
    t, i = tenant, ex.id
    steps: list[Callable[[], Any]] = [
        lambda: store.create(ex, "key"),
        lambda: store.create(twin, "key"),  # key taken
        lambda: store.create(ex),  # id taken
        lambda: store.idempotent_match(t, "key")["executionId"] == i,
        lambda: store.transition(ex, ExecutionStatus.RUNNING, None, None),
        lambda: store.transition(ex, ExecutionStatus.FAILED, STAMP, {"e": 1}),  # stale status
        lambda: store.get(t, i, with_runs=False).status,
        lambda: _run(store.mark_run_running(t, i, "a", 1, STAMP)[1]),
        lambda: store.mark_run_running(t, i, "a", 2, "later")[0],  # a retry: still running
        lambda: store.record_run_error_if_running(t, i, "a", json.dumps({"error": "E"})),
        lambda: store.runs(t, i, ["a", "missing"]),
        lambda: store.complete_run_if_running(t, i, "a", json.dumps({"r": 1}), 2, STAMP),
        lambda: store.complete_run_if_running(t, i, "a", json.dumps({"r": 2}), 3, STAMP),
        lambda: store.mark_run_running(t, i, "a", 4, STAMP),
        lambda: store.fail_run_unless_ended(t, i, "a", json.dumps({"error": "late"}), 5, STAMP),
        lambda: store.record_run_error_if_running(t, i, "b", json.dumps({"error": "E"})),
        lambda: store.runs(t, i, ["b"]),
        lambda: store.park_run_if_pending(t, i, "c", "tok", 2),
        lambda: store.mark_dependency_done(t, i, "c", "a"),
        lambda: store.mark_dependency_done(t, i, "c", "b"),
        lambda: store.park_run_if_pending(t, i, "a", "tok-a", None),  # already ran
        lambda: store.read(t, i, ["a", "c"], with_record=True)[1],
        lambda: store.read(t, i, [], with_record=True)[0].status,
        lambda: store.transition(ex, ExecutionStatus.COMPLETED, STAMP, None),  # stale: it is running
        lambda: store.delete(ex),  # stale status
        lambda: sorted(store.get(t, i).runs),
        lambda: store.page(t, None, "running", 5, 0).total,
        # Ended, so it leaves the index of active executions: the session's runtime is shared,
        # and its dispatcher would otherwise sweep this record (whose machine never existed).
        lambda: store.transition(store.get(t, i, with_runs=False), ExecutionStatus.COMPLETED, STAMP, None),
        lambda: store.page(t, None, "running", 5, 0).total,
    ]
    return [_outcome(step) for step in steps]


# Its checks are far ahead of the clock, so no sweep of the shared runtime looks at it.
FUTURE, LATER, LATEST = "2099-03-02T09:00:00.000Z", "2099-03-02T09:05:00.000Z", "2099-03-02T09:10:00.000Z"
M2 = "arn:aws:states:us-east-1:123456789012:stateMachine:m2"


def launch_story(store: Any, tenant: str) -> list[Any]:
    """A run that failed, a redrive of it (one claim wins, unfinished tasks pending again), the
    active index the sweep reads, and a resume."""
    ex = replace(_execution(tenant), started_at=FUTURE)
    t, i, shard = tenant, ex.id, active_shard(ex.id)
    seen: dict[str, Execution] = {}

    def due(now: str) -> list[bool]:
        return [True for e in store.due_for_check(shard, now, 1000) if e.id == i]

    def active() -> list[bool]:
        return [True for e in store.active(shard) if e.id == i]

    def read(key: str) -> Any:
        seen[key] = store.get(t, i)
        got = seen[key]
        return (
            got.status,
            got.sfn_name.removeprefix(i),
            got.redrive_count,
            got.redriven_at,
            got.completed_at,
            got.error,
            got.state_machine_arn,
        )

    def runs() -> Any:
        got = store.get(t, i).runs
        return {
            n: (r.status, r.attempts, r.prior_attempts, r.error, r.result, r.started_at)
            for n, r in got.items()
        }

    steps: list[Callable[[], Any]] = [
        lambda: store.create(ex),
        lambda: (due("2099-03-02T08:59:59.999Z"), due(FUTURE), active()),
        lambda: store.transition(ex, ExecutionStatus.RUNNING, None, None),
        lambda: _run(store.mark_run_running(t, i, "a", 1, FUTURE)[1]),
        lambda: store.complete_run_if_running(t, i, "a", json.dumps({"r": 1}), 1, FUTURE),
        lambda: _run(store.mark_run_running(t, i, "c", 2, FUTURE)[1]),
        lambda: store.fail_run_unless_ended(t, i, "c", json.dumps({"error": "E"}), 2, FUTURE),
        lambda: store.transition(
            replace(ex, status=ExecutionStatus.RUNNING), ExecutionStatus.FAILED, FUTURE, {"e": 1}
        ),
        lambda: (due(LATEST), active()),  # ended: not active
        lambda: read("failed"),
        lambda: store.relaunch(seen["failed"], M2, f"{i}.2", LATER, True),
        lambda: store.relaunch(seen["failed"], M2, f"{i}.2", LATER, True),  # the other claim loses
        lambda: store.reset_unfinished(seen["failed"]),
        lambda: read("redriven"),
        runs,
        lambda: (due(FUTURE), due(LATER), active()),
        lambda: store.check_later(seen["redriven"], LATEST),
        lambda: (due(LATER), due(LATEST)),
        lambda: store.relaunch(seen["redriven"], M2, f"{i}.3", LATEST, False),  # a resume keeps the status
        lambda: store.relaunch(seen["failed"], M2, f"{i}.3", LATEST, False),  # stale status and launch
        lambda: read("resumed"),
        lambda: store.transition(seen["resumed"], ExecutionStatus.COMPLETED, LATEST, None),
        lambda: store.check_later(seen["resumed"], FUTURE),  # ended: a no-op
        lambda: (due(LATEST), active()),
    ]
    return [_outcome(step) for step in steps]


def _schedule(tenant: str) -> Schedule:
    return Schedule(
        id=new_id("sc"),
        tenant_id=tenant,
        workflow_id=new_id("wf"),
        cron_expression="*/5 * * * *",
        timezone="UTC",
        parameters={},
        enabled=True,
        next_run_at="2026-03-02T09:05:00.000Z",
        created_at=STAMP,
        updated_at=STAMP,
        revision=1,
    )


def schedule_story(store: Any, tenant: str) -> list[Any]:
    sc = _schedule(tenant)
    later = sc.with_changes(next_run_at="2026-03-02T09:10:00.000Z")
    steps: list[Callable[[], Any]] = [
        lambda: store.create(sc),
        lambda: store.create(sc),
        lambda: store.save(sc, later).revision,
        lambda: store.save(sc, later),  # stale revision
        lambda: store.get(tenant, sc.id).next_run_at,
        lambda: [s.id == sc.id for s in store.of_workflow(tenant, sc.workflow_id)],
        lambda: store.page(tenant, sc.workflow_id, 5, 0).total,
        lambda: store.delete(sc),  # stale revision
        lambda: store.delete(store.get(tenant, sc.id)),
        lambda: store.get(tenant, sc.id),
    ]
    return [_outcome(step) for step in steps]


@pytest.fixture
def real(runtime: Runtime) -> dict[str, Any]:
    from orchestration_core.services import schedule_store, table, workflow_store

    return {
        "workflows": workflow_store(),
        "executions": ExecutionStore(table()),
        "schedules": schedule_store(),
    }


def test_the_workflow_fake_tells_the_same_story_as_the_store(real: dict[str, Any], tenant: str) -> None:
    assert workflow_story(FakeWorkflowStore(), tenant) == workflow_story(real["workflows"], tenant)


def test_the_execution_fake_tells_the_same_story_as_the_store(real: dict[str, Any], tenant: str) -> None:
    assert execution_story(FakeExecutionStore(), tenant) == execution_story(real["executions"], tenant)


def test_the_execution_fake_launches_again_as_the_store_does(real: dict[str, Any], tenant: str) -> None:
    assert launch_story(FakeExecutionStore(), tenant) == launch_story(real["executions"], tenant)


def test_the_schedule_fake_tells_the_same_story_as_the_store(real: dict[str, Any], tenant: str) -> None:
    assert schedule_story(FakeScheduleStore(), tenant) == schedule_story(real["schedules"], tenant)
