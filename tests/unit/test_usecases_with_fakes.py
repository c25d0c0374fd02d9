"""Use cases, the task runner's decisions and the schedule dispatcher against the in-memory
fakes of tests/fakes, with a clock the test moves: no moto, no sleeps, each test milliseconds.
tests/integration/test_store_fakes_contract.py keeps the fakes honest against the real stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from orchestration_core.engine.compiler import TRANSIENT_ERROR
from orchestration_core.executions import usecases as executions
from orchestration_core.executions.models import ExecutionStatus
from orchestration_core.executions.runner import Runner, RunnerEvent
from orchestration_core.schedules import usecases as schedules
from orchestration_core.schedules.api import ScheduleCreate
from orchestration_core.shared import clock
from orchestration_core.shared.errors import (
    Conflict,
    EngineUnavailable,
    NotFound,
    PreconditionFailed,
    StoreThrottled,
)
from orchestration_core.shared.table import CONFLICT_ATTEMPTS, ConditionFailed
from orchestration_core.tasktypes.registry import TaskError
from orchestration_core.workflows import usecases as workflows
from orchestration_core.workflows.api import WorkflowCreate, WorkflowUpdate
from orchestration_core.workflows.models import TaskStatus, Workflow, WorkflowStatus

from tests.fakes import (
    FakeClock,
    FakeEngine,
    FakeExecutionStore,
    FakeScheduleStore,
    FakeServices,
    FakeWorkflowStore,
    fake_services,
)

TENANT = "t-fakes"


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)).install(monkeypatch)


@pytest.fixture
def svc() -> FakeServices:
    return fake_services()


def _workflow(store: Any, *tasks: dict[str, Any], status: str = "active", name: str = "wf") -> Workflow:
    body = list(tasks) or [{"name": "a", "type": "noop"}]
    return workflows.create_workflow(
        store, TENANT, WorkflowCreate.model_validate({"name": name, "tasks": body, "status": status})
    )


# -- workflows ---------------------------------------------------------------------------------------
def test_create_stamps_the_clock_and_lists_newest_first_with_a_cursor(fake_clock: FakeClock) -> None:
    store = FakeWorkflowStore()
    made = []
    for i in range(3):
        made.append(_workflow(store, name=f"w{i}"))
        fake_clock.advance(seconds=1)
    assert made[0].created_at == "2026-03-02T09:00:00.000Z"
    newest_first = sorted((w.id for w in made), reverse=True)  # ids sort by creation time
    first = workflows.list_workflows(store, TENANT, None, 2, 0, None)
    assert [w.id for w in first.items] == newest_first[:2]
    assert (first.total, first.offset, first.next_token is not None) == (3, 0, True)
    rest = workflows.list_workflows(store, TENANT, None, 2, 0, first.next_token)
    assert [w.id for w in rest.items] == newest_first[2:]
    assert (rest.offset, rest.next_token) == (2, None)
    assert workflows.list_workflows(store, "someone-else", None, 2, 0, None).total == 0


def test_an_update_that_loses_a_race_is_reapplied_on_the_fresh_read(fake_clock: FakeClock) -> None:
    store = FakeWorkflowStore()
    wf = _workflow(store)

    class Racing(FakeWorkflowStore):
        raced = False

        def replace(self, old: Workflow, new: Workflow) -> None:
            if not self.raced:  # another writer gets in between the read and this write
                self.raced = True
                other = old.with_changes(description="theirs", revision=old.revision + 1)
                FakeWorkflowStore.replace(self, old, other)
            FakeWorkflowStore.replace(self, old, new)

    racing = Racing()
    racing.items = store.items
    updated = workflows.update_workflow(racing, TENANT, wf.id, WorkflowUpdate(name="mine"), None)
    assert (updated.name, updated.description, updated.revision) == ("mine", "theirs", 3)


def test_an_if_match_update_answers_412_for_a_stale_etag_and_for_a_lost_race(fake_clock: FakeClock) -> None:
    store = FakeWorkflowStore()
    wf = _workflow(store)
    workflows.update_workflow(store, TENANT, wf.id, WorkflowUpdate(name="v2"), None)
    with pytest.raises(PreconditionFailed):
        workflows.update_workflow(store, TENANT, wf.id, WorkflowUpdate(name="v3"), wf.etag)

    class AlwaysLoses(FakeWorkflowStore):
        def replace(self, old: Workflow, new: Workflow) -> None:
            raise ConditionFailed(0)

    losing = AlwaysLoses()
    losing.items = store.items
    current = workflows.get_workflow(store, TENANT, wf.id)
    with pytest.raises(PreconditionFailed):
        workflows.update_workflow(losing, TENANT, wf.id, WorkflowUpdate(name="v3"), current.etag)


def test_a_workflow_contended_past_every_retry_answers_409_without_sleeping(fake_clock: FakeClock) -> None:
    calls = []

    class AlwaysLoses(FakeWorkflowStore):
        def replace(self, old: Workflow, new: Workflow) -> None:
            calls.append(old.revision)
            raise ConditionFailed(0)

    store = AlwaysLoses()
    wf = _workflow(store)
    with pytest.raises(Conflict):
        workflows.update_workflow(store, TENANT, wf.id, WorkflowUpdate(name="x"), None)
    assert len(calls) == CONFLICT_ATTEMPTS


def test_tasks_that_change_bump_the_version_and_a_delete_needs_the_current_revision(
    fake_clock: FakeClock,
) -> None:
    store = FakeWorkflowStore()
    wf = _workflow(store)
    same = workflows.update_workflow(store, TENANT, wf.id, WorkflowUpdate(description="d"), None)
    assert same.version == 1
    fake_clock.advance(minutes=5)
    changed = workflows.update_workflow(
        store, TENANT, wf.id, WorkflowUpdate.model_validate({"tasks": [{"name": "b", "type": "noop"}]}), None
    )
    assert (changed.version, changed.revision, changed.updated_at) == (2, 3, "2026-03-02T09:05:00.000Z")
    with pytest.raises(PreconditionFailed):
        workflows.delete_workflow(store, TENANT, wf.id, wf.etag)
    workflows.delete_workflow(store, TENANT, wf.id, changed.etag)
    with pytest.raises(NotFound):
        workflows.get_workflow(store, TENANT, wf.id)


# -- executions --------------------------------------------------------------------------------------
def test_execute_records_a_pending_execution_and_starts_it_once(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    wf = _workflow(svc.workflows)
    ex = executions.start_execution(svc, TENANT, wf.id, {"n": 1}, idempotency_key="k1")
    assert (ex.status, ex.started_at, ex.workflow_version) == (
        ExecutionStatus.PENDING,
        "2026-03-02T09:00:00.000Z",
        1,
    )
    assert svc.executions.get(TENANT, ex.id) == ex
    engine = svc.engine
    assert [s[1:] for s in engine.starts] == [(ex.id, {"executionId": ex.id, "tenantId": TENANT})]
    again = executions.start_execution(svc, TENANT, wf.id, {"n": 1}, idempotency_key="k1")
    assert again.id == ex.id
    assert len(engine.starts) == 1
    other = _workflow(svc.workflows, name="other")
    with pytest.raises(Conflict):
        executions.start_execution(svc, TENANT, other.id, {}, idempotency_key="k1")


def test_execute_refuses_a_missing_or_inactive_workflow(svc: FakeServices, fake_clock: FakeClock) -> None:
    with pytest.raises(NotFound):
        executions.start_execution(svc, TENANT, "wf_0000000000", {})
    wf = _workflow(svc.workflows, status="inactive")
    assert wf.status == WorkflowStatus.INACTIVE
    with pytest.raises(Conflict):
        executions.start_execution(svc, TENANT, wf.id, {})
    assert svc.executions.page(TENANT, None, None, 10, 0).total == 0


def test_a_start_step_functions_refuses_leaves_no_record_behind(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    wf = _workflow(svc.workflows)
    engine = svc.engine
    engine.fail_next(
        EngineUnavailable("Step Functions refused the request (ServiceUnavailable); retry shortly.")
    )
    with pytest.raises(EngineUnavailable):
        executions.start_execution(svc, TENANT, wf.id, {}, idempotency_key="k")
    assert svc.executions.page(TENANT, None, None, 10, 0).total == 0
    assert svc.executions.idempotent_match(TENANT, "k") is None  # the client's retry starts afresh
    ex = executions.start_execution(svc, TENANT, wf.id, {}, idempotency_key="k")
    assert svc.executions.get(TENANT, ex.id) is not None


# -- the task runner ---------------------------------------------------------------------------------
def _event(ex_id: str, action: str, **extra: Any) -> RunnerEvent:
    return RunnerEvent.model_validate({"action": action, "executionId": ex_id, "tenantId": TENANT, **extra})


def _spec(kind: str = "noop", depends_on: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": kind, "dependsOn": list(depends_on), "config": {}}


def test_the_runner_marks_running_completes_and_finishes_by_intent(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    wf = _workflow(svc.workflows, {"name": "a", "type": "noop"})
    ex = executions.start_execution(svc, TENANT, wf.id, {"x": 1})
    runner = Runner(svc.executions, svc.engine, lambdas=None)
    started = runner.handle(_event(ex.id, "start", sfnName=ex.id))
    record = svc.executions.get(TENANT, ex.id)
    assert record is not None
    assert record.status == ExecutionStatus.RUNNING
    context = started["execution"]
    prepared = runner.handle(_event(ex.id, "prepare", task="a", spec=_spec(), execution=context))
    assert prepared["skip"] is False
    assert prepared["input"]["parameters"] == {"x": 1}
    run = svc.executions.runs(TENANT, ex.id, ["a"])["a"]
    assert (run.status, run.attempts, run.started_at) == (TaskStatus.RUNNING, 1, "2026-03-02T09:00:00.000Z")
    fake_clock.advance(seconds=3)
    runner.handle(_event(ex.id, "complete", task="a", spec=_spec(), execution=context, result={"ok": 1}))
    run = svc.executions.runs(TENANT, ex.id, ["a"])["a"]
    assert (run.status, run.result, run.completed_at) == (
        TaskStatus.COMPLETED,
        {"ok": 1},
        "2026-03-02T09:00:03.000Z",
    )
    # A retried invocation of a task that completed is skipped, never run again.
    again = runner.handle(_event(ex.id, "prepare", task="a", spec=_spec(), execution=context))
    assert again["skip"] is True
    runner.handle(_event(ex.id, "finish", status="completed"))
    done = svc.executions.get(TENANT, ex.id)
    assert done is not None
    assert (done.status, done.completed_at) == (ExecutionStatus.COMPLETED, "2026-03-02T09:00:03.000Z")


def test_the_runner_releases_a_gated_task_once_its_last_dependency_completes(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    wf = _workflow(
        svc.workflows,
        {"name": "a", "type": "noop"},
        {"name": "b", "type": "noop"},
        {"name": "c", "type": "noop", "dependsOn": ["a", "b"]},
    )
    ex = executions.start_execution(svc, TENANT, wf.id, {})
    runner = Runner(svc.executions, svc.engine, lambdas=None)
    context = runner.handle(_event(ex.id, "start", sfnName=ex.id))["execution"]
    engine = svc.engine
    runner.handle(_event(ex.id, "await", task="c", token="tok-c", gate=2, spec=_spec(depends_on=("a", "b"))))
    for name in ("a", "b"):
        runner.handle(_event(ex.id, "prepare", task=name, spec=_spec(), execution=context))
        assert engine.released == []
        runner.handle(
            _event(ex.id, "complete", task=name, spec=_spec(), execution=context, result=name, notify=["c"])
        )
    assert engine.released == ["tok-c"]
    gated = svc.executions.runs(TENANT, ex.id, ["c"])["c"]
    assert (gated.status, gated.gate, gated.gate_done) == (TaskStatus.PENDING, 2, frozenset({"a", "b"}))


def test_the_runner_records_a_failed_task_and_fails_the_execution(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    wf = _workflow(svc.workflows, {"name": "a", "type": "noop"})
    ex = executions.start_execution(svc, TENANT, wf.id, {})
    runner = Runner(svc.executions, svc.engine, lambdas=None)
    context = runner.handle(_event(ex.id, "start", sfnName=ex.id))["execution"]
    runner.handle(_event(ex.id, "prepare", task="a", spec=_spec(), execution=context))
    cause = json.dumps({"task": "a", "attempts": 3, "error": {"Error": "Boom", "Cause": "it broke"}})
    runner.handle(_event(ex.id, "finish", status="failed", error={"Error": "TaskFailed", "Cause": cause}))
    failed = svc.executions.get(TENANT, ex.id)
    assert failed is not None
    assert failed.status == ExecutionStatus.FAILED
    assert failed.error == {"task": "a", "error": "Boom", "cause": "it broke"}
    run = failed.runs["a"]
    assert (run.status, run.attempts, run.error) == (
        TaskStatus.FAILED,
        3,
        {"error": "Boom", "cause": "it broke"},
    )
    # A late completion of the failed task changes nothing.
    runner.handle(_event(ex.id, "complete", task="a", spec=_spec(), execution=context, result=1))
    assert svc.executions.runs(TENANT, ex.id, ["a"])["a"].status == TaskStatus.FAILED


def test_a_throttled_store_surfaces_as_the_transient_task_error(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    class Throttling(FakeExecutionStore):
        def mark_run_running(self, *args: Any) -> Any:
            raise StoreThrottled("The store is throttling requests; retry shortly.")

    runner = Runner(Throttling(), FakeEngine(), lambdas=None)
    with pytest.raises(TaskError) as caught:
        runner.handle(_event("ex_0000000000", "prepare", task="a", spec=_spec(), execution={}))
    assert caught.value.error == TRANSIENT_ERROR


# -- launching again: redrive, resume after a restart, the sweep ----------------------------------
def _ran_a_then_failed_b(svc: FakeServices, fake_clock: FakeClock) -> Any:
    """An execution of a -> b whose task a completed and b failed twice, as the runner leaves it."""
    wf = _workflow(
        svc.workflows, {"name": "a", "type": "noop"}, {"name": "b", "type": "noop", "dependsOn": ["a"]}
    )
    ex = executions.start_execution(svc, TENANT, wf.id, {})
    runner = Runner(svc.executions, svc.engine, lambdas=None)
    context = runner.handle(_event(ex.id, "start", sfnName=ex.id))["execution"]
    runner.handle(_event(ex.id, "prepare", task="a", spec=_spec(), execution=context))
    runner.handle(_event(ex.id, "complete", task="a", spec=_spec(), execution=context, result={"a": 1}))
    runner.handle(_event(ex.id, "prepare", task="b", spec=_spec(depends_on=("a",)), execution=context))
    cause = json.dumps({"task": "b", "attempts": 2, "error": {"Error": "Boom", "Cause": "no"}})
    fake_clock.advance(seconds=5)
    runner.handle(_event(ex.id, "finish", status="failed", error={"Error": "TaskFailed", "Cause": cause}))
    return ex


def test_a_redrive_runs_only_what_did_not_complete_under_the_same_id(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    ex = _ran_a_then_failed_b(svc, fake_clock)
    fake_clock.advance(minutes=1)
    redriven = executions.redrive_execution(svc, TENANT, ex.id)
    assert (redriven.status, redriven.redrive_count, redriven.sfn_name) == (
        ExecutionStatus.RUNNING,
        1,
        f"{ex.id}.2",
    )
    assert (redriven.completed_at, redriven.error, redriven.redriven_at) == (
        None,
        None,
        "2026-03-02T09:01:05.000Z",
    )
    runs = redriven.runs
    assert (runs["a"].status, runs["a"].result) == (TaskStatus.COMPLETED, {"a": 1})  # kept, not run again
    assert (runs["b"].status, runs["b"].prior_attempts, runs["b"].error) == (TaskStatus.PENDING, 2, None)
    assert [name for _, name, _ in svc.engine.starts] == [ex.id, f"{ex.id}.2"]
    # A second redrive of a running execution is refused: only one wins.
    with pytest.raises(Conflict):
        executions.redrive_execution(svc, TENANT, ex.id)


def test_resume_launches_again_only_runs_whose_machine_is_gone(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    wf = _workflow(svc.workflows)
    kept = executions.start_execution(svc, TENANT, wf.id, {})
    lost = executions.start_execution(svc, TENANT, wf.id, {})
    del svc.engine.executions[lost.sfn_execution_arn]  # as after a restart of the embedded runtime
    assert executions.resume_stranded(svc) == [lost.id]
    resumed = svc.executions.get(TENANT, lost.id)
    assert resumed is not None
    assert (resumed.status, resumed.sfn_name, resumed.redrive_count) == (
        ExecutionStatus.PENDING,
        f"{lost.id}.2",
        0,
    )
    assert svc.engine.describe(resumed.sfn_execution_arn)["status"] == "RUNNING"
    assert executions.resume_stranded(svc) == []  # nothing is launched twice
    assert [name for _, name, _ in svc.engine.starts] == [kept.id, lost.id, f"{lost.id}.2"]


def test_the_sweep_ends_what_step_functions_ended_and_checks_the_rest_later(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    wf = _workflow(svc.workflows)
    done = executions.start_execution(svc, TENANT, wf.id, {})
    busy = executions.start_execution(svc, TENANT, wf.id, {})
    svc.engine.finish(done.sfn_execution_arn, "ABORTED")
    assert executions.sweep(svc, fake_clock.advance(seconds=1)) == 1
    ended = svc.executions.get(TENANT, done.id)
    assert ended is not None
    assert ended.status == ExecutionStatus.CANCELLED
    later = svc.executions.checks[(TENANT, busy.id)]
    assert later > clock.now_iso()  # not looked at again until then
    assert executions.sweep(svc, fake_clock.now()) == 0
    assert svc.executions.checks[(TENANT, busy.id)] == later
    assert (TENANT, done.id) not in svc.executions.checks


# -- the schedule dispatcher -----------------------------------------------------------------------
def _schedule(store: FakeScheduleStore, svc: FakeServices, wf: Workflow, now: datetime) -> Any:
    request = ScheduleCreate(workflowId=wf.id, cronExpression="*/5 * * * *", parameters={"p": 1})
    return schedules.create_schedule(store, svc.workflows, TENANT, request, now)


def test_the_dispatcher_fires_a_due_schedule_once_and_not_twice(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    store = FakeScheduleStore()
    wf = _workflow(svc.workflows)
    sc = _schedule(store, svc, wf, fake_clock.now())
    assert sc.next_run_at == "2026-03-02T09:05:00.000Z"
    early = schedules.dispatch_due(fake_clock.now(), store, svc, workers=1)
    assert early.due == 0
    tick = fake_clock.advance(minutes=5, seconds=2)
    report = schedules.dispatch_due(tick, store, svc, workers=1)
    assert report.as_dict()["started"] == 1
    again = schedules.dispatch_due(tick, store, svc, workers=1)
    assert again.due == 0
    page = svc.executions.page(TENANT, wf.id, None, 10, 0)
    assert page.total == 1
    (ex,) = page.items
    assert ex.trigger == {"type": "schedule", "scheduleId": sc.id, "scheduledAt": "2026-03-02T09:05:00.000Z"}
    after = store.get(TENANT, sc.id)
    assert after is not None
    assert (after.next_run_at, after.last_execution_id, after.pending_fire) == (
        "2026-03-02T09:10:00.000Z",
        ex.id,
        None,
    )


def test_a_start_refused_for_a_transient_reason_is_retried_with_the_same_execution_id(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    store = FakeScheduleStore()
    wf = _workflow(svc.workflows)
    sc = _schedule(store, svc, wf, fake_clock.now())
    calls: list[str] = []

    def start(*args: Any, execution_id: str, **kwargs: Any) -> None:
        calls.append(execution_id)
        if len(calls) == 1:
            raise EngineUnavailable("Step Functions refused the request (ServiceUnavailable); retry shortly.")

    first = schedules.dispatch_due(fake_clock.advance(minutes=5), store, svc, start=start, workers=1)
    assert first.as_dict()["retrying"] == 1
    held = store.get(TENANT, sc.id)
    assert held is not None
    pending = held.pending_fire
    assert pending is not None
    assert schedules.dispatch_due(fake_clock.advance(seconds=10), store, svc, start=start, workers=1).due == 0
    later = schedules.dispatch_due(
        fake_clock.advance(seconds=schedules.PENDING_RETRY_SECONDS), store, svc, start=start, workers=1
    )
    assert later.as_dict()["recovered"] == 1
    assert calls == [pending.execution_id, pending.execution_id]
    cleared = store.get(TENANT, sc.id)
    assert cleared is not None
    assert cleared.pending_fire is None


def test_a_schedule_of_a_deleted_workflow_is_removed_at_its_due_time(
    svc: FakeServices, fake_clock: FakeClock
) -> None:
    store = FakeScheduleStore()
    wf = _workflow(svc.workflows)
    sc = _schedule(store, svc, wf, fake_clock.now())
    workflows.delete_workflow(svc.workflows, TENANT, wf.id, None)
    report = schedules.dispatch_due(fake_clock.advance(minutes=5), store, svc, workers=1)
    assert report.as_dict()["removed"] == 1
    assert store.get(TENANT, sc.id) is None
    assert clock.now_iso() == "2026-03-02T09:05:00.000Z"
