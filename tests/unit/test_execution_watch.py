"""GET /executions/{id}'s long poll (``watch_execution``) against the in-memory stores, on a
virtual clock: ``sleep`` advances it and fires what the test scheduled, so every figure below is
exact and nothing waits for real time."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from orchestration_core.executions import usecases as executions
from orchestration_core.executions.models import Execution, ExecutionStatus
from orchestration_core.executions.usecases import (
    MAX_WAIT_SECONDS,
    WATCH_TASKS_INTERVAL_MAX,
    Services,
    tasks_interval,
)
from orchestration_core.shared import changes
from orchestration_core.shared.changes import Change
from orchestration_core.shared.errors import NotFound
from orchestration_core.shared.etags import entity_tags
from orchestration_core.workflows import usecases as workflows
from orchestration_core.workflows.api import WorkflowCreate

from tests.fakes import FakeClock, FakeExecutionStore, fake_services

TENANT = "t-watch"


class VirtualTime:
    """``monotonic`` and ``sleep`` for the use case; ``at(t, f)`` runs ``f`` when time reaches t."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._due: list[tuple[float, int, Callable[[], None]]] = []

    def monotonic(self) -> float:
        return self.now

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._due, (when, len(self._due), action))

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.now += seconds
        while self._due and self._due[0][0] <= self.now:
            heapq.heappop(self._due)[2]()


class VirtualFeed:
    """A change feed on the virtual clock; it is its own subscription."""

    def __init__(self, clock: VirtualTime) -> None:
        self.clock = clock
        self.subscribed: list[str] = []

    def subscribe(self, partition: str) -> Any:
        self.subscribed.append(partition)
        return self

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class PollingOnVirtualTime(VirtualFeed):
    """The deployed feed (look every POLL_INTERVAL)."""

    def wait(self, seconds: float) -> Change:
        self.clock.sleep(min(changes.POLL_INTERVAL, seconds))
        return Change.MAYBE


class WritesOnVirtualTime(VirtualFeed):
    """A feed told of every write (as the embedded runtime's): ``writes`` are their times."""

    def __init__(self, clock: VirtualTime) -> None:
        super().__init__(clock)
        self.writes: list[float] = []

    def wait(self, seconds: float) -> Change:
        due = [t for t in self.writes if t <= self.clock.now + seconds]
        until = min(due) if due else self.clock.now + seconds
        self.clock.sleep(max(until - self.clock.now, 1e-9))
        if due:
            self.writes.remove(min(due))
            return Change.WRITTEN
        return Change.QUIET


class CountingStore(FakeExecutionStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = {"record": 0, "with runs": 0}

    def get(self, tenant_id: str, execution_id: str, with_runs: bool = True) -> Execution | None:
        self.reads["with runs" if with_runs else "record"] += 1
        return super().get(tenant_id, execution_id, with_runs)


@pytest.fixture
def svc(monkeypatch: pytest.MonkeyPatch) -> Services:
    FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)).install(monkeypatch)
    return fake_services(CountingStore())


def _started(svc: Services, tasks: int = 2) -> Execution:
    body = {
        "name": "wf",
        "tasks": [
            {"name": f"t{i}", "type": "noop", **({"dependsOn": [f"t{i - 1}"]} if i else {})}
            for i in range(tasks)
        ],
    }
    wf = workflows.create_workflow(svc.workflows, TENANT, WorkflowCreate.model_validate(body))
    ex = executions.start_execution(svc, TENANT, wf.id, {})
    store: Any = svc.executions
    assert store.transition(ex, ExecutionStatus.RUNNING, None, None)
    current = store.get(TENANT, ex.id)
    assert current is not None
    return current


def _watch(
    svc: Services, ex: Execution, seen: str, wait: float, clock: VirtualTime, feed: Any = None
) -> tuple[Execution, bool]:
    token = changes.feed.set(feed or PollingOnVirtualTime(clock))
    try:
        return executions.watch_execution(
            svc, TENANT, ex.id, entity_tags(seen), wait, monotonic=clock.monotonic
        )
    finally:
        changes.feed.reset(token)


def test_the_etag_changes_with_what_get_shows_and_only_then(svc: Services) -> None:
    ex = _started(svc)
    store: Any = svc.executions
    assert store.get(TENANT, ex.id).etag == ex.etag  # read twice, same tag
    store.mark_run_running(TENANT, ex.id, "t0", 1, "2026-03-02T09:00:01.000Z")
    running = store.get(TENANT, ex.id)
    assert running.etag != ex.etag
    store.complete_run_if_running(TENANT, ex.id, "t0", '{"rows": 1}', 1, "2026-03-02T09:00:02.000Z")
    assert store.get(TENANT, ex.id).etag not in {ex.etag, running.etag}
    assert ex.etag.startswith('"') and ex.etag.endswith('"')


def test_without_a_matching_tag_or_a_wait_it_answers_at_once(svc: Services) -> None:
    ex = _started(svc)
    clock = VirtualTime()
    assert _watch(svc, ex, '"stale"', 20, clock) == (ex, False)
    assert _watch(svc, ex, ex.etag, 0, clock) == (ex, True)  # a plain conditional GET: 304
    assert _watch(svc, ex, f'"x", W/{ex.etag}', 0, clock)[1]  # a list, a weak tag
    assert clock.slept == []


def test_the_end_of_the_run_is_seen_within_one_status_interval(svc: Services) -> None:
    ex = _started(svc)
    store: Any = svc.executions
    clock = VirtualTime()
    ended_at = 7.25
    clock.at(
        ended_at, lambda: store.transition(ex, ExecutionStatus.COMPLETED, "2026-03-02T09:00:07.250Z", None)
    )
    seen, unchanged = _watch(svc, ex, ex.etag, 20, clock)
    assert (seen.status, unchanged) == (ExecutionStatus.COMPLETED, False)
    assert ended_at <= clock.now <= ended_at + changes.POLL_INTERVAL + 1e-9


@pytest.mark.parametrize("size", [2, 25, 60, 400])
def test_task_progress_is_seen_within_one_tasks_interval(svc: Services, size: int) -> None:
    ex = _started(svc, size)
    store: Any = svc.executions
    clock = VirtualTime()
    clock.at(3.05, lambda: store.mark_run_running(TENANT, ex.id, "t0", 1, "2026-03-02T09:00:03.050Z"))
    seen, unchanged = _watch(svc, ex, ex.etag, 20, clock)
    assert not unchanged
    assert seen.runs["t0"].status.value == "running"
    interval = tasks_interval(ex)
    assert interval == {2: 0.1, 25: 0.1, 60: pytest.approx(0.3), 400: WATCH_TASKS_INTERVAL_MAX}[size]
    assert 3.05 <= clock.now <= 3.05 + interval + 1e-9


@pytest.mark.parametrize(
    ("size", "reads"), [(2, {"record": 25, "with runs": 1 + 25}), (60, {"record": 25, "with runs": 1 + 8})]
)
def test_an_unchanged_execution_is_answered_unchanged_when_the_wait_is_up(
    svc: Services, size: int, reads: dict[str, int]
) -> None:
    ex = _started(svc, size)
    clock = VirtualTime()
    store: Any = svc.executions
    before = dict(store.reads)
    seen, unchanged = _watch(svc, ex, ex.etag, 2.5, clock)
    assert (seen, unchanged) == (ex, True)
    assert clock.now == pytest.approx(2.5)
    # What a held request costs for 2.5 s: the record every 100 ms; a small workflow's task runs
    # as often, a larger one's every 300 ms (60 tasks).
    assert {k: store.reads[k] - before[k] for k in before} == reads


def test_the_wait_is_capped_and_star_waits_for_the_next_change(svc: Services) -> None:
    ex = _started(svc)
    clock = VirtualTime()
    _, unchanged = _watch(svc, ex, "*", 10 * MAX_WAIT_SECONDS, clock)
    assert unchanged
    assert clock.now == pytest.approx(MAX_WAIT_SECONDS)
    store: Any = svc.executions
    clock.at(
        clock.now + 1.0,
        lambda: store.transition(ex, ExecutionStatus.FAILED, "2026-03-02T09:00:09.000Z", None),
    )
    seen, unchanged = _watch(svc, ex, "*", 5, clock)
    assert (seen.status, unchanged) == (ExecutionStatus.FAILED, False)


def test_an_execution_that_goes_away_while_held_is_not_found(svc: Services) -> None:
    ex = _started(svc)
    store: Any = svc.executions
    clock = VirtualTime()
    clock.at(0.5, lambda: store.records.pop((TENANT, ex.id)))
    with pytest.raises(NotFound):
        _watch(svc, ex, ex.etag, 5, clock)


def test_told_of_writes_it_reads_once_per_write_and_nothing_in_between(svc: Services) -> None:
    ex = _started(svc, 60)
    store: Any = svc.executions
    clock = VirtualTime()
    feed = WritesOnVirtualTime(clock)
    feed.writes = [4.0, 9.5]  # a write that changes nothing shown, then the end
    clock.at(9.5, lambda: store.transition(ex, ExecutionStatus.COMPLETED, "2026-03-02T09:00:09.500Z", None))
    before = dict(store.reads)
    seen, unchanged = _watch(svc, ex, ex.etag, 20, clock, feed)
    assert (seen.status, unchanged) == (ExecutionStatus.COMPLETED, False)
    assert clock.now == pytest.approx(9.5)  # at the write itself
    assert feed.subscribed == [store.partition(TENANT, ex.id)]
    assert {k: store.reads[k] - before[k] for k in before} == {"record": 0, "with runs": 1 + 2}


def test_told_of_no_write_an_idle_watcher_reads_nothing_until_the_wait_is_up(svc: Services) -> None:
    ex = _started(svc)
    store: Any = svc.executions
    clock = VirtualTime()
    before = dict(store.reads)
    assert _watch(svc, ex, ex.etag, 20, clock, WritesOnVirtualTime(clock)) == (ex, True)
    assert clock.now == pytest.approx(20)
    assert {k: store.reads[k] - before[k] for k in before} == {"record": 0, "with runs": 1}
