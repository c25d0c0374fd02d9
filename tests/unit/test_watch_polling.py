"""How often `run --watch` looks: soon after a change, then backing off to a ceiling."""

from __future__ import annotations

import itertools

import pytest

from orchestration_local.client import Polling


def ex(status: str = "running", **tasks: str) -> dict:
    return {"status": status, "tasks": [{"name": n, "status": s, "attempts": 1} for n, s in tasks.items()]}


def test_intervals_grow_while_nothing_changes_up_to_the_ceiling() -> None:
    polling = Polling(first=0.025, growth=1.5, longest=1.0)
    quiet = ex(a="running")
    intervals = [polling.next_interval(quiet) for _ in range(14)]
    assert intervals[0] == 0.025
    assert intervals[1:4] == pytest.approx([0.0375, 0.05625, 0.084375])
    assert all(later >= earlier for earlier, later in itertools.pairwise(intervals))
    assert intervals[-1] == 1.0


def test_a_change_starts_over_at_the_first_interval() -> None:
    polling = Polling(first=0.025, growth=2.0, longest=1.0)
    for _ in range(6):
        polling.next_interval(ex(a="running", b="pending"))
    assert polling.interval == 0.8
    assert polling.next_interval(ex(a="completed", b="running")) == 0.025  # a task ended
    assert polling.next_interval(ex(a="completed", b="running")) == 0.05
    retried = ex(a="completed", b="running")
    retried["tasks"][1]["attempts"] = 2
    assert polling.next_interval(retried) == 0.025  # a retry is a change too


def test_the_first_looks_of_a_short_run_come_within_100_ms_of_each_other() -> None:
    # A run that ends 0.3 s after the watch began is seen within 100 ms of its end.
    polling = Polling()
    elapsed, looks = 0.0, []
    while elapsed < 0.5:
        elapsed += polling.next_interval(ex(a="running"))
        looks.append(elapsed)
    first_after_end = min(t for t in looks if t >= 0.3)
    assert first_after_end - 0.3 <= 0.1
