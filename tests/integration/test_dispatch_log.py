"""The dispatcher's log: an idle tick is a debug record (not an info line every minute); a tick
that did something is logged at info with its counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestration_local.runtime import Runtime
from orchestration_local.ticker import scheduled_event


def _tick(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, started: int, reconciled: int) -> list[Any]:
    logical_id = next(fid for fid, _ in runtime.template.schedules)
    module = runtime.functions.modules.get(logical_id)
    if module is None:
        runtime.functions.handler(logical_id)
        module = runtime.functions.modules[logical_id]

    def dispatch_due(now: datetime, *_args: Any, **_kwargs: Any) -> Any:
        report = module.schedules.DispatchReport(tick=now.isoformat())
        report.started = started
        return report

    monkeypatch.setattr(module.schedules, "dispatch_due", dispatch_due)
    monkeypatch.setattr(module.executions, "sweep", lambda *_args: reconciled)
    records: list[Any] = []
    monkeypatch.setattr(module.logger, "info", lambda msg, **kw: records.append(("info", msg, kw)))
    monkeypatch.setattr(module.logger, "debug", lambda msg, **kw: records.append(("debug", msg, kw)))
    runtime.functions.invoke(logical_id, scheduled_event(logical_id, datetime(2026, 1, 1, tzinfo=UTC)))
    return records


def test_an_idle_tick_is_logged_at_debug(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    assert [level for level, *_ in _tick(runtime, monkeypatch, started=0, reconciled=0)] == ["debug"]


@pytest.mark.parametrize(("started", "reconciled"), [(1, 0), (0, 2)])
def test_a_tick_that_did_something_is_logged_at_info(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, started: int, reconciled: int
) -> None:
    records = _tick(runtime, monkeypatch, started, reconciled)
    assert [level for level, *_ in records] == ["info"]
    assert records[0][2]["extra"]["started"] == started and records[0][2]["extra"]["reconciled"] == reconciled
