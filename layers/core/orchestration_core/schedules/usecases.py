"""Schedule use cases (create, read, list, update, delete) and the dispatcher that fires them.

Every function takes the current time as an argument: nothing here reads the clock, so
tests drive the dispatcher through any tick, outage or DST change they like.

Firing (``dispatch_due``), run once a minute by the EventBridge rule:

1. Read each due shard of GSI2 (``dueAt <= now``, keys only), oldest first, no scan; read the
   schedules consistently (one BatchGetItem per 100), since the index is eventually
   consistent. Workers fire one page while the next is read.
2. **Decide** the slot: the first fire *strictly after now* becomes ``nextRunAt`` (so after an
   outage an overdue schedule fires once, not once per missed slot); the slot is skipped
   (inactive workflow, outside the catch-up window, ``skip`` overlap), held (``bufferOne``) or
   run. A run's ``executionId`` derives from (schedule id, scheduled time) only
   (:func:`fire_execution_id`).
3. **Start** it: ``executions.start_execution`` is idempotent on that id (a conditional put of
   the record, and a Step Functions execution named by the id).
4. **Record** the fire with *one* conditional UpdateItem (condition: the ``revision`` read, so
   the schedule is as it was read: enabled, at that slot, no ``pendingFire``): ``nextRunAt`` advanced,
   ``lastRunAt``/``lastExecutionId`` (or ``lastSkippedAt``, ``lastError``), the recent action,
   and the due-index entry moved to the new ``nextRunAt``.

Why a run is started exactly once: every start of a slot uses the same execution id, and the
store admits one record per id. Why no slot is lost: until the write of step 4 succeeds, the
schedule stays due at that slot. A crash before the start, or between the start and the write,
leaves the schedule as it was, so the next tick (or a retried delivery of this one) fires the
slot again with the same id, and a start that had gone through finds its run and starts nothing
new (at most it starts the Step Functions execution a crash left unstarted). Of doubled ticks,
both may call start (one record results) and one write wins; the other counts as lost. A
schedule changed between the consistent read and the write (disabled, re-timed) loses the
write; a run already started for it is then noted on the schedule, not undone.

Outcomes of a start: success -> ``lastRunAt``/``lastExecutionId``; the workflow is gone (404)
-> the schedule is deleted (deleting a workflow deletes its schedules; this finishes the job if
that was interrupted); inactive workflow -> skipped (``lastSkippedAt``), normally decided before
starting; any other 4xx (e.g. 422, unregistered task types) -> ``lastError``, nothing retried;
5xx, throttling or an unexpected error -> the write of step 4 records ``pendingFire`` =
{scheduledAt, executionId, retryAt = now + PENDING_RETRY_SECONDS, attempts} (the slot is
consumed, the due-index entry moves to ``retryAt``), and a later tick retries the start with the
same id, up to MAX_START_ATTEMPTS, then ``lastError``. One schedule's failure never stops the
tick. The happy path costs one conditional write per fire (plus the start's own writes);
failures cost one more per retry.

Deleting a workflow deletes its schedules right after the workflow (``delete_for_workflow``,
one GSI3 partition). A schedule that escapes (the delete died halfway, or a create raced the
delete) is deleted by the dispatcher at its first due time, when it finds no workflow.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from orchestration_core.executions import usecases as executions
from orchestration_core.executions.usecases import Services
from orchestration_core.schedules import cron
from orchestration_core.schedules.api import (
    MAX_BACKFILL_SLOTS,
    BackfillRequest,
    ScheduleCreate,
    ScheduleUpdate,
)
from orchestration_core.schedules.models import PendingFire, Schedule
from orchestration_core.schedules.store import DUE_SHARDS, ConditionFailed
from orchestration_core.shared import clock
from orchestration_core.shared.errors import Conflict, FieldError, NotFound, ProblemError, ValidationFailed
from orchestration_core.shared.ids import derived_id, new_id
from orchestration_core.shared.pagination import Cursor, Page, resolve_position
from orchestration_core.shared.table import retry_on_conflict
from orchestration_core.workflows.models import Workflow, WorkflowStatus

if TYPE_CHECKING:
    from orchestration_core.workflows.usecases import WorkflowRepository

log = logging.getLogger(__name__)


class ScheduleRepository(Protocol):
    """What the use cases and the dispatcher need of schedule storage (schedules/store.py's
    ScheduleStore; an in-memory fake in unit tests).

    ``create`` raises ConditionFailed if the id exists; ``save`` and ``delete`` raise it unless
    the stored schedule is still at ``old.revision`` (``save`` returns ``new`` at the next
    revision); ``due_pages`` yields pages of one shard's schedules due at ``now_iso``."""

    def get(self, tenant_id: str, schedule_id: str) -> Schedule | None: ...

    def create(self, sc: Schedule) -> None: ...

    def save(self, old: Schedule, new: Schedule) -> Schedule: ...

    def delete(self, sc: Schedule) -> None: ...

    def page(
        self, tenant_id: str, workflow_id: str | None, limit: int, position: Cursor | int
    ) -> Page[Schedule]: ...

    def of_workflow(self, tenant_id: str, workflow_id: str) -> Iterator[Schedule]: ...

    def due_pages(self, shard: int, now_iso: str, page_size: int = 500) -> Iterator[list[Schedule]]: ...


# A fire whose start failed for a transient reason is re-attempted this long after by a later
# tick (with rate(1 minute), normally the next one). A slow dispatcher racing the retry is
# harmless: both start the same execution id.
PENDING_RETRY_SECONDS = 30
MAX_START_ATTEMPTS = 5
DEFAULT_WORKERS = 8

StartFn = Callable[..., Any]


# -- validation ------------------------------------------------------------------------------------
def _check_timing(expression: str | None, timezone: str | None) -> None:
    """cron.py's verdicts as one 400 naming each bad field (both may be wrong at once)."""
    errors = []
    for value, check in ((expression, cron.parse_cron), (timezone, cron.validate_timezone)):
        if value is None:
            continue
        try:
            check(value)
        except cron.CronError as err:
            errors.append(FieldError(err.field, err.reason))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field} {e.message}" for e in errors) + ".", errors)


def not_found(schedule_id: str) -> NotFound:
    return NotFound(f"Schedule '{schedule_id}' does not exist.")


def _next_run(expression: str, timezone: str, after: datetime) -> str:
    return clock.iso(cron.next_run_at(expression, timezone, after))


def _window_runs(
    expression: str, timezone: str, start_at: str | None, end_at: str | None, after: datetime, count: int
) -> list[str]:
    """The next ``count`` fire times strictly after ``after`` that lie in [start_at, end_at]."""
    if start_at is not None:
        after = max(after, clock.parse_iso(start_at) - timedelta(microseconds=1))
    times = [clock.iso(t) for t in cron.next_runs(expression, timezone, after, count)]
    return [t for t in times if end_at is None or t <= end_at]


def _bounded_next(sc: Schedule, after: datetime) -> str | None:
    """The schedule's first fire strictly after ``after`` inside its startAt/endAt (None: none)."""
    runs = _window_runs(sc.cron_expression, sc.timezone, sc.start_at, sc.end_at, after, 1)
    return runs[0] if runs else None


def upcoming_run_times(sc: Schedule, now: datetime, count: int = 5) -> list[str]:
    """The next ``count`` fire times after ``now`` (UTC, DST rule applied); none while disabled
    or once the schedule is past its ``endAt`` (``nextRunAt`` null)."""
    if not sc.enabled or sc.next_run_at is None:
        return []
    try:
        return _window_runs(sc.cron_expression, sc.timezone, sc.start_at, sc.end_at, now, count)
    except cron.CronError:
        return []


def _check_window(start_at: str | None, end_at: str | None) -> None:
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise ValidationFailed("endAt must be after startAt.", [FieldError("endAt", "must be after startAt")])


def previous_run_active(svc: Services, sc: Schedule) -> bool:
    """Whether this schedule's previous run is pending or running: a fire being started, or the
    execution ``lastExecutionId`` names (one read; reconciled with Step Functions if it claims
    to be running, so a run that died unrecorded does not hold the schedule forever)."""
    if sc.pending_fire is not None:
        return True
    if sc.last_execution_id is None:
        return False
    ex = svc.executions.get(sc.tenant_id, sc.last_execution_id, with_runs=False)
    if ex is None or ex.status.terminal:
        return False
    try:
        ex = executions.reconcile(svc, ex)
    except Exception:  # noqa: BLE001 - cannot tell: treat the run as still going
        log.warning("could not reconcile %s for schedule %s", ex.id, sc.id)
        return True
    return not ex.status.terminal


# -- use cases ---------------------------------------------------------------------------------------
def create_schedule(
    store: ScheduleRepository,
    workflows: WorkflowRepository,
    tenant_id: str,
    request: ScheduleCreate,
    now: datetime,
) -> Schedule:
    expression = request.cronExpression.strip()
    _check_timing(expression, request.timezone)
    _check_window(request.startAt, request.endAt)
    if workflows.get(tenant_id, request.workflowId) is None:
        raise NotFound(f"Workflow '{request.workflowId}' does not exist.")
    stamp = clock.iso(now)
    sc = Schedule(
        id=new_id("sc", int(now.timestamp() * 1000)),
        tenant_id=tenant_id,
        workflow_id=request.workflowId,
        cron_expression=expression,
        timezone=request.timezone,
        parameters=request.parameters or {},
        enabled=request.enabled,
        next_run_at=None,
        created_at=stamp,
        updated_at=stamp,
        revision=1,
        overlap_policy=request.overlapPolicy,
        catchup_window_seconds=request.catchupWindowSeconds,
        start_at=request.startAt,
        end_at=request.endAt,
        note=request.note,
    )
    if sc.enabled:
        sc = sc.with_changes(next_run_at=_bounded_next(sc, now))
    store.create(sc)
    return sc


def get_schedule(store: ScheduleRepository, tenant_id: str, schedule_id: str) -> Schedule:
    sc = store.get(tenant_id, schedule_id)
    if sc is None:
        raise not_found(schedule_id)
    return sc


def list_schedules(
    store: ScheduleRepository,
    tenant_id: str,
    workflow_id: str | None,
    limit: int,
    offset: int,
    next_token: str | None,
) -> Page[Schedule]:
    return store.page(tenant_id, workflow_id, limit, resolve_position(offset, next_token))


def update_schedule(
    store: ScheduleRepository, tenant_id: str, schedule_id: str, request: ScheduleUpdate, now: datetime
) -> Schedule:
    """Apply the fields given. ``nextRunAt`` is recomputed from ``now`` when the expression, the
    time zone or ``enabled`` changes (kept otherwise, so an overdue fire is not dropped). A fire
    the dispatcher has claimed but not finished (pendingFire) is kept: it still starts."""
    expression = request.cronExpression.strip() if request.cronExpression is not None else None
    _check_timing(expression, request.timezone)
    for _ in retry_on_conflict():
        current = get_schedule(store, tenant_id, schedule_id)
        changes: dict[str, Any] = {"updated_at": clock.iso(now)}
        if expression is not None:
            changes["cron_expression"] = expression
        if request.timezone is not None:
            changes["timezone"] = request.timezone
        if request.parameters is not None:
            changes["parameters"] = request.parameters
        if request.enabled is not None:
            changes["enabled"] = request.enabled
        for name, attr in (
            ("overlapPolicy", "overlap_policy"),
            ("catchupWindowSeconds", "catchup_window_seconds"),
            ("note", "note"),
        ):
            if getattr(request, name) is not None:
                changes[attr] = getattr(request, name)
        for name, attr in (("startAt", "start_at"), ("endAt", "end_at")):
            if name in request.model_fields_set:  # null removes the bound
                changes[attr] = getattr(request, name)
        updated = current.with_changes(**changes)
        _check_window(updated.start_at, updated.end_at)

        def timing(s: Schedule) -> tuple[Any, ...]:
            return (s.cron_expression, s.timezone, s.enabled, s.start_at, s.end_at)

        if timing(updated) != timing(current) or (updated.enabled and updated.next_run_at is None):
            updated = updated.with_changes(
                next_run_at=_bounded_next(updated, now) if updated.enabled else None
            )
        try:
            return store.save(current, updated)
        except ConditionFailed:
            continue  # the dispatcher or another writer got there first: re-read and re-apply
    raise Conflict("The schedule is being changed by many writers at once; retry shortly.")


def delete_schedule(store: ScheduleRepository, tenant_id: str, schedule_id: str) -> None:
    for _ in retry_on_conflict():
        current = get_schedule(store, tenant_id, schedule_id)
        try:
            store.delete(current)
            return
        except ConditionFailed:
            continue
    raise Conflict("The schedule is being changed by many writers at once; retry shortly.")


def delete_for_workflow(store: ScheduleRepository, tenant_id: str, workflow_id: str) -> int:
    """Delete every schedule of a workflow (called when the workflow is deleted). Returns how many."""
    deleted = 0
    for sc in list(store.of_workflow(tenant_id, workflow_id)):
        if _delete_quietly(store, sc):
            deleted += 1
    return deleted


def _delete_quietly(store: ScheduleRepository, sc: Schedule) -> bool:
    current: Schedule | None = sc
    for _ in retry_on_conflict():
        if current is None:
            return False
        try:
            store.delete(current)
            return True
        except ConditionFailed:
            current = store.get(sc.tenant_id, sc.id)
    return False


# -- run now: trigger and backfill ----------------------------------------------------------------------
@dataclass
class Triggered:
    execution_id: str
    status: Literal["started", "buffered"]
    scheduled_at: str


@dataclass
class Backfilled:
    scheduled_at: list[str]
    execution_ids: list[str | None]  # None: the overlap policy skipped that slot

    @property
    def skipped(self) -> int:
        return sum(1 for e in self.execution_ids if e is None)


def trigger_execution_id(schedule_id: str, scheduled_at: str) -> str:
    """A triggered run's id: from (schedule, "trigger", time), apart from any slot's fire id."""
    ms = int(clock.parse_iso(scheduled_at).timestamp() * 1000)
    return new_id("ex", ms)[:13] + derived_id("ex", schedule_id, "trigger", scheduled_at)[3:19]


def _runnable_workflow(svc: Services, sc: Schedule) -> Workflow:
    wf = svc.workflows.get(sc.tenant_id, sc.workflow_id)
    if wf is None:
        raise NotFound(f"Workflow '{sc.workflow_id}' does not exist.")
    if wf.status == WorkflowStatus.INACTIVE:
        raise Conflict("The workflow is inactive; set its status to draft or active to run it.")
    return wf


def trigger_schedule(
    store: ScheduleRepository,
    svc: Services,
    tenant_id: str,
    schedule_id: str,
    overlap_policy: str | None,
    now: datetime,
) -> Triggered:
    """Run the schedule now with its parameters. The overlap policy (the schedule's, or the
    override) applies: ``skip`` while the previous run is active answers 409, ``bufferOne``
    holds the run until that one ends (409 if one is held already). The run is started first
    (its id derives from schedule and time, so a retried request starts nothing new), then
    recorded on the schedule with a conditional write; a refused start records nothing."""
    scheduled = clock.iso(now)
    execution_id = trigger_execution_id(schedule_id, scheduled)
    for _ in retry_on_conflict():
        sc = get_schedule(store, tenant_id, schedule_id)
        _runnable_workflow(svc, sc)
        policy = overlap_policy or sc.overlap_policy
        if policy != "allow" and previous_run_active(svc, sc):
            if policy == "bufferOne" and sc.buffered is None:
                held = {"scheduledAt": scheduled, "executionId": execution_id, "type": "trigger"}
                try:
                    store.save(
                        sc, sc.with_changes(buffered=held).with_action(scheduled, execution_id, "buffered")
                    )
                except ConditionFailed:
                    continue
                return Triggered(execution_id, "buffered", scheduled)
            with suppress(ConditionFailed):
                store.save(sc, sc.with_action(scheduled, None, "skipped-overlap"))
            held_note = " and one run is buffered already" if policy == "bufferOne" else ""
            raise Conflict(
                f"The schedule's previous run is still pending or running{held_note} "
                f"(overlapPolicy '{policy}'); nothing was started. "
                'Send {"overlapPolicy": "allow"} to run anyway.'
            )
        # As the dispatcher does: start (idempotent on the id), then record it in one write.
        executions.start_execution(
            svc,
            tenant_id,
            sc.workflow_id,
            sc.parameters,
            execution_id=execution_id,
            trigger={"type": "trigger", "scheduleId": sc.id, "scheduledAt": scheduled},
        )
        _record(store, sc, [(scheduled, execution_id, "started")], execution_id, None, last_run_at=scheduled)
        return Triggered(execution_id, "started", scheduled)
    raise Conflict("The schedule is being changed by many writers at once; retry shortly.")


def backfill_slots(sc: Schedule, start_at: str, end_at: str, now: datetime) -> list[str]:
    """The cron slots in [start_at, end_at), validated: a past range of at most 1,000 slots."""
    errors = []
    if end_at <= start_at:
        errors.append(FieldError("endAt", "must be after startAt"))
    if end_at > clock.iso(now):
        errors.append(FieldError("endAt", "must not be in the future (backfill runs past slots)"))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field} {e.message}" for e in errors) + ".", errors)
    after = clock.parse_iso(start_at) - timedelta(microseconds=1)
    found = [
        clock.iso(t) for t in cron.next_runs(sc.cron_expression, sc.timezone, after, MAX_BACKFILL_SLOTS + 1)
    ]
    slots = [t for t in found if t < end_at]
    if len(slots) > MAX_BACKFILL_SLOTS:
        raise ValidationFailed(
            f"The range holds more than {MAX_BACKFILL_SLOTS:,} slots of this schedule; split it.",
            [FieldError("endAt", f"the range must hold at most {MAX_BACKFILL_SLOTS:,} slots")],
        )
    return slots


def backfill_schedule(
    store: ScheduleRepository,
    svc: Services,
    tenant_id: str,
    schedule_id: str,
    request: BackfillRequest,
    now: datetime,
    workers: int = DEFAULT_WORKERS,
) -> Backfilled:
    """One run per slot in [startAt, endAt), each with the id the dispatcher gives that slot
    (:func:`fire_execution_id`), so a repeated backfill, or a slot already fired, starts
    nothing twice: the existing run's id is returned. ``allow`` starts every slot; ``skip``
    and ``bufferOne`` treat the slots as fired one after the other at once: a slot starts only
    if no run of the schedule is active (the one started for an earlier slot is), bufferOne
    holds the first slot that overlaps (if the schedule holds none), the rest are skipped."""
    sc = get_schedule(store, tenant_id, schedule_id)
    slots = backfill_slots(sc, request.startAt, request.endAt, now)
    _runnable_workflow(svc, sc)

    def start(slot: str) -> str:
        ex = executions.start_execution(
            svc,
            tenant_id,
            sc.workflow_id,
            sc.parameters,
            execution_id=fire_execution_id(sc.id, slot),
            trigger={"type": "backfill", "scheduleId": sc.id, "scheduledAt": slot},
        )
        return ex.id

    if request.overlapPolicy == "allow":
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="backfill") as pool:
            ids: list[str | None] = list(pool.map(start, slots))
        return Backfilled(slots, ids)

    ids = []
    actions: list[tuple[str, str | None, str]] = []
    held: dict[str, Any] | None = None
    last: str | None = None
    active = previous_run_active(svc, sc)
    for slot in slots:
        execution_id = fire_execution_id(sc.id, slot)
        existing = svc.executions.get(tenant_id, execution_id, with_runs=False)
        if existing is not None:
            ids.append(execution_id)
            active = active or not existing.status.terminal
        elif not active:
            ids.append(start(slot))
            actions.append((slot, execution_id, "started"))
            last, active = execution_id, True
        elif request.overlapPolicy == "bufferOne" and held is None and sc.buffered is None:
            held = {"scheduledAt": slot, "executionId": execution_id, "type": "backfill"}
            ids.append(execution_id)
            actions.append((slot, execution_id, "buffered"))
        else:
            ids.append(None)
            actions.append((slot, None, "skipped-overlap"))
    _record(store, sc, actions, last, held)
    return Backfilled(slots, ids)


def _record(
    store: ScheduleRepository,
    sc: Schedule,
    actions: list[tuple[str, str | None, str]],
    last: str | None,
    held: dict[str, Any] | None,
    last_run_at: str | None = None,
) -> None:
    """Write runs started outside a tick on the schedule (recent actions, last run, buffered
    slot), re-reading after a concurrent update."""
    current: Schedule | None = sc
    for _ in retry_on_conflict():
        if current is None or not (actions or last or held):
            return
        new = current
        for action in actions:
            new = new.with_action(*action)
        if last is not None:
            new = new.with_changes(last_execution_id=last)
        if last_run_at is not None:
            new = new.with_changes(last_run_at=last_run_at)
        if held is not None and current.buffered is None:
            new = new.with_changes(buffered=held)
        try:
            store.save(current, new)
            return
        except ConditionFailed:
            current = store.get(sc.tenant_id, sc.id)


# -- the dispatcher ------------------------------------------------------------------------------------
def fire_execution_id(schedule_id: str, scheduled_at: str) -> str:
    """The execution id of a schedule's fire: a function of (schedule id, scheduled time) only.

    Shaped like any ``ex_`` id (10 characters of time, 16 of hash) with the *scheduled* time in
    front, so GET /executions keeps listing newest first (a catch-up run after an outage sorts
    by the slot it stands for).
    """
    ms = int(clock.parse_iso(scheduled_at).timestamp() * 1000)
    return new_id("ex", ms)[:13] + derived_id("ex", schedule_id, scheduled_at)[3:19]


def tick_time(event: dict[str, Any] | None, fallback: datetime) -> datetime:
    """The tick an EventBridge scheduled event stands for (its ``time``), else ``fallback``."""
    raw = (event or {}).get("time")
    if isinstance(raw, str):
        try:
            moment = clock.parse_iso(raw)
        except ValueError:
            return fallback
        if moment.utcoffset() is not None:
            return moment
    return fallback


MAX_REPORTED_FIRES = 100


@dataclass
class DispatchReport:
    tick: str
    due: int = 0  # due-index entries examined
    started: int = 0  # fires claimed and started now
    recovered: int = 0  # fires a crash or an error had left unfinished, started now
    skipped: int = 0  # slots advanced without running: inactive workflow, overlap, catch-up window
    buffered: int = 0  # fires held back (bufferOne) until the previous run ends
    failed: int = 0  # fires that started nothing, with lastError recorded
    retrying: int = 0  # starts that failed for a transient reason: a later tick retries
    lost: int = 0  # claims another dispatcher (or an update) won
    removed: int = 0  # schedules whose workflow no longer exists: deleted
    deferred: int = 0  # left for the next tick: the time budget ran out
    seconds: float = 0.0
    # The fires started by this tick (the first MAX_REPORTED_FIRES): schedule, execution, slot.
    fired: list[dict[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def fire(self, schedule_id: str, execution_id: str, scheduled_at: str) -> None:
        with self._lock:
            if len(self.fired) < MAX_REPORTED_FIRES:
                self.fired.append(
                    {"scheduleId": schedule_id, "executionId": execution_id, "scheduledAt": scheduled_at}
                )

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


def dispatch_due(
    now: datetime,
    store: ScheduleRepository,
    svc: Services,
    *,
    start: StartFn | None = None,
    workers: int = DEFAULT_WORKERS,
    budget_seconds: float | None = None,
    shards: range = range(DUE_SHARDS),
) -> DispatchReport:
    """Fire every schedule due at ``now`` (see the module docstring). ``start`` defaults to
    ``executions.start_execution`` (looked up at call time); ``budget_seconds`` bounds the
    wall time spent, leaving the rest due for the next tick."""
    began = time.monotonic()
    deadline = None if budget_seconds is None else began + budget_seconds
    tick = _Tick(now, store, svc, start, deadline)
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="dispatch") as pool:
        firing: list[Future[None]] = []
        for shard in shards:
            for page in store.due_pages(shard, tick.now_iso):  # read consistently, see there
                tick.report.due += len(page)
                # One page is read ahead while the workers fire the one before it, no more (reads
                # must not crowd out the fires when the store, like the embedded one, is shared).
                for done in firing:
                    done.result()
                firing = [pool.submit(tick.handle, sc) for sc in page]
        for done in firing:
            done.result()
    tick.report.seconds = round(time.monotonic() - began, 3)
    return tick.report


class _Tick:
    def __init__(
        self,
        now: datetime,
        store: ScheduleRepository,
        svc: Services,
        start: StartFn | None,
        deadline: float | None,
    ) -> None:
        self.now = now
        self.now_iso = clock.iso(now)
        self.retry_iso = clock.iso(now + timedelta(seconds=PENDING_RETRY_SECONDS))
        self.store = store
        self.svc = svc
        self.start_fn = start
        self.deadline = deadline
        self.report = DispatchReport(tick=self.now_iso)
        self._workflows: dict[tuple[str, str], Workflow | None] = {}

    # -- one due entry ---------------------------------------------------------------------------
    def handle(self, sc: Schedule) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.report.count("deferred")
            return
        try:
            self._handle(sc)
        except Exception:
            log.exception("dispatching schedule %s failed", sc.id)
            self.report.count("retrying")

    def _handle(self, sc: Schedule) -> None:
        if sc.pending_fire is not None:
            if sc.pending_fire.retry_at > self.now_iso:
                return  # a failed start waits for its retry time
            recovered = self._recover(sc)
            if recovered is None or recovered.pending_fire is not None:
                return
            sc = recovered
        if sc.enabled and sc.buffered is not None:
            released = self._release(sc)
            if released is None or released.pending_fire is not None:
                return
            sc = released
        if sc.enabled and sc.next_run_at is not None and sc.next_run_at <= self.now_iso:
            self._fire(sc)

    def _release(self, sc: Schedule) -> Schedule | None:
        """bufferOne: start the buffered fire once the previous run has ended (else keep it)."""
        buffered = sc.buffered
        assert buffered is not None
        if previous_run_active(self.svc, sc):
            return sc
        pending = PendingFire(
            buffered["scheduledAt"],
            buffered["executionId"],
            self.retry_iso,
            1,
            buffered.get("type", "schedule"),
        )
        current: Schedule | None = sc
        for _ in range(2):
            assert current is not None
            new, outcome = self._started(current.with_changes(buffered=None), pending)
            if outcome == "removed":
                return None
            written = self._write(current, new)
            if written is not None:
                self._count(outcome, sc.id, pending)
                return written
            current = self.store.get(sc.tenant_id, sc.id)
            if current is None or current.buffered != buffered or current.pending_fire is not None:
                self._record_unseen(current, pending, outcome)
                self.report.count("lost")
                return None
        self.report.count("lost")
        return None

    def _workflow(self, sc: Schedule) -> Workflow | None:
        key = (sc.tenant_id, sc.workflow_id)
        if key not in self._workflows:  # one read per workflow per tick (racing reads are harmless)
            self._workflows[key] = self.svc.workflows.get(*key)
        return self._workflows[key]

    def _fire(self, sc: Schedule) -> None:
        """Fire the due slot of ``sc`` (read consistently this tick): decide, start the run if
        the decision is to run, then record it all with one conditional write."""
        # Two attempts, not CONFLICT_ATTEMPTS: one tick serves every due schedule, and a schedule
        # still contended after its one more go is left to the next tick (counted "lost").
        for _ in retry_on_conflict(2):  # an update that keeps the slot (e.g. new parameters) gets one more go
            wf = self._workflow(sc)
            if wf is None:
                if _delete_quietly(self.store, sc):
                    self.report.count("removed")
                return
            read = sc.next_run_at
            assert read is not None
            try:
                following = _bounded_next(sc, self.now)
            except cron.CronError as err:  # stored before a rule tightened: stop it, say why
                error = self._error(read, 400, "Invalid schedule", str(err))
                with suppress(ConditionFailed):
                    self.store.save(sc, sc.with_changes(enabled=False, next_run_at=None, last_error=error))
                    self.report.count("failed")
                return
            new, outcome = self._decide(sc, wf, read, following)
            pending = new.pending_fire
            if outcome == "started":
                assert pending is not None
                new, outcome = self._started(new.with_changes(pending_fire=None), pending)
                if outcome == "removed":
                    return
            # Conditional on the revision read (consistently) alone: unchanged since, the item
            # is still enabled, at this slot and with no pending fire, as it was read.
            written = self._write(sc, new)
            if written is not None:
                self._count(outcome, sc.id, pending)
                return
            fresh = self.store.get(sc.tenant_id, sc.id)
            if (
                fresh is None
                or fresh.revision == sc.revision
                or not fresh.enabled
                or fresh.pending_fire is not None
                or fresh.next_run_at != read
            ):
                if pending is not None:
                    self._record_unseen(fresh, pending, outcome)
                self.report.count("lost")
                return
            sc = fresh
        self.report.count("lost")

    def _write(self, old: Schedule, new: Schedule) -> Schedule | None:
        """The one conditional write of a fire, if ``old``'s revision is still the stored one
        (None: the schedule changed since it was read)."""
        try:
            return self.store.save(old, new)
        except ConditionFailed:
            return None

    def _count(self, outcome: str, schedule_id: str, pending: PendingFire | None) -> None:
        self.report.count(outcome)
        if outcome in {"started", "recovered"} and pending is not None:
            self.report.fire(schedule_id, pending.execution_id, pending.scheduled_at)

    def _record_unseen(self, fresh: Schedule | None, pending: PendingFire, outcome: str) -> None:
        """A run this tick started whose record lost to a concurrent change of the schedule (it was
        disabled, re-timed or deleted meanwhile): note the run on the schedule unless it is noted."""
        if fresh is None or outcome != "started":
            return
        if any(a.get("executionId") == pending.execution_id for a in fresh.recent_actions):
            return  # a racing dispatcher recorded it
        action = (pending.scheduled_at, pending.execution_id, "started")
        _record(self.store, fresh, [action], pending.execution_id, None, last_run_at=pending.scheduled_at)

    def _decide(self, sc: Schedule, wf: Workflow, read: str, following: str | None) -> tuple[Schedule, str]:
        """The new state of the schedule for the slot ``read`` and the report counter. For
        "started", ``pending_fire`` names the run to start (the caller starts it)."""
        new = sc.with_changes(next_run_at=following)
        scheduled: str | None = read
        oldest = clock.iso(self.now - timedelta(seconds=sc.catchup_window_seconds))
        if read < oldest:  # overdue beyond the catch-up window: that slot is skipped ...
            new = new.with_action(read, None, "skipped-catchup")
            # ... but a slot missed inside the window still fires (once).
            inside = _bounded_next(sc, clock.parse_iso(oldest))
            scheduled = inside if inside is not None and inside <= self.now_iso else None
            if scheduled is None:
                return new, "skipped"
        assert scheduled is not None
        execution_id = fire_execution_id(sc.id, scheduled)
        if wf.status == WorkflowStatus.INACTIVE:
            return new.with_changes(last_skipped_at=scheduled).with_action(
                scheduled, None, "skipped-inactive"
            ), "skipped"
        if sc.overlap_policy != "allow" and previous_run_active(self.svc, sc):
            if sc.overlap_policy == "bufferOne" and sc.buffered is None:
                held = {"scheduledAt": scheduled, "executionId": execution_id, "type": "schedule"}
                return new.with_changes(buffered=held).with_action(
                    scheduled, execution_id, "buffered"
                ), "buffered"
            return new.with_action(scheduled, None, "skipped-overlap"), "skipped"
        pending = PendingFire(scheduled, execution_id, self.retry_iso, 1)
        return new.with_changes(pending_fire=pending), "started"

    def _recover(self, sc: Schedule) -> Schedule | None:
        """Retry a start that failed for a transient reason (its ``pendingFire`` is due for a retry):
        start again with the same execution id, then record the outcome with one conditional write.
        Returns the schedule after it (None if it is gone or another dispatcher recorded it)."""
        pending = sc.pending_fire
        assert pending is not None
        base = sc.with_changes(pending_fire=None)
        if pending.attempts >= MAX_START_ATTEMPTS:
            detail = f"the execution could not be started after {pending.attempts} attempts"
            new = base.with_changes(
                last_error=self._error(pending.scheduled_at, 503, "Service unavailable", detail)
            )
            outcome = "failed"
        else:
            retry = replace(pending, retry_at=self.retry_iso, attempts=pending.attempts + 1)
            new, outcome = self._started(base, retry)
            if outcome == "removed":
                return None
            outcome = "recovered" if outcome == "started" else outcome
        written = self._write(sc, new)
        if written is None:
            self.report.count("lost")
            return None
        self._count(outcome, sc.id, pending)
        return written

    def _started(self, new: Schedule, pending: PendingFire) -> tuple[Schedule, str]:
        """Start the run ``pending`` names (idempotent on its execution id) and return ``new`` with
        the outcome written in: "started", "skipped" (the workflow went inactive), "failed" (a
        refusal no retry can fix, in ``lastError``), "retrying" (a transient failure: the
        ``pendingFire`` marker makes a later tick retry) or "removed" (the workflow is gone: the
        schedule was deleted with it)."""
        sc = new
        start = self.start_fn or executions.start_execution
        try:
            start(
                self.svc,
                sc.tenant_id,
                sc.workflow_id,
                sc.parameters,
                execution_id=pending.execution_id,
                trigger={
                    "type": pending.trigger_type,
                    "scheduleId": sc.id,
                    "scheduledAt": pending.scheduled_at,
                },
            )
        except Exception as err:  # noqa: BLE001 - every outcome is recorded; the tick goes on
            return self._failed_start(sc, pending, err)
        done = sc.with_changes(
            last_run_at=pending.scheduled_at, last_execution_id=pending.execution_id, last_error=None
        )
        return done.with_action(pending.scheduled_at, pending.execution_id, "started"), "started"

    def _failed_start(self, sc: Schedule, pending: PendingFire, err: Exception) -> tuple[Schedule, str]:
        if isinstance(err, NotFound | Conflict):
            self._workflows.pop((sc.tenant_id, sc.workflow_id), None)
            wf = self.svc.workflows.get(sc.tenant_id, sc.workflow_id)
            if wf is None:  # deleted meanwhile: the schedule goes with it
                if _delete_quietly(self.store, sc):
                    self.report.count("removed")
                return sc, "removed"
            if wf.status == WorkflowStatus.INACTIVE:
                skipped = sc.with_changes(last_skipped_at=pending.scheduled_at)
                return skipped.with_action(pending.scheduled_at, None, "skipped-inactive"), "skipped"
        if isinstance(err, ProblemError) and 400 <= err.status < 500 and err.status != 429:
            # The request itself is refused (e.g. 422: unregistered task types): retrying won't help.
            error = self._error(pending.scheduled_at, err.status, err.title, err.detail)
            return sc.with_changes(last_error=error), "failed"
        if pending.attempts >= MAX_START_ATTEMPTS:
            detail = f"the execution could not be started after {pending.attempts} attempts"
            error = self._error(pending.scheduled_at, 503, "Service unavailable", detail)
            return sc.with_changes(last_error=error), "failed"
        log.warning(
            "starting %s for schedule %s failed (%s); a later tick retries",
            pending.execution_id,
            sc.id,
            type(err).__name__,
        )
        return sc.with_changes(pending_fire=pending), "retrying"

    def _error(self, scheduled_at: str, status: int, title: str, detail: str) -> dict[str, Any]:
        return {
            "at": self.now_iso,
            "scheduledAt": scheduled_at,
            "status": status,
            "title": title,
            "detail": detail,
        }
