"""The dispatcher's log: a tick and each fire are debug records (not a line every minute on
the console; every fire is in its schedule's recentActions); fires that failed are a warning.
The embedded runtime's ticker prints one short line per fired schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestration_local.runtime import Runtime
from orchestration_local.ticker import Ticker, scheduled_event


def _tick(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, started: int, reconciled: int, failed: int = 0
) -> list[Any]:
    logical_id = next(fid for fid, _ in runtime.template.schedules)
    module = runtime.functions.modules.get(logical_id)
    if module is None:
        runtime.functions.handler(logical_id)
        module = runtime.functions.modules[logical_id]

    def dispatch_due(now: datetime, *_args: Any, **_kwargs: Any) -> Any:
        report = module.schedules.DispatchReport(tick=now.isoformat())
        report.started, report.failed = started, failed
        for n in range(started):
            report.fire(f"sc_{n}", f"ex_{n}", "2026-01-01T00:00:00.000Z")
        return report

    monkeypatch.setattr(module.schedules, "dispatch_due", dispatch_due)
    monkeypatch.setattr(module.executions, "sweep", lambda *_args: reconciled)
    records: list[Any] = []
    monkeypatch.setattr(module.logger, "info", lambda msg, **kw: records.append(("info", msg, kw)))
    monkeypatch.setattr(module.logger, "debug", lambda msg, **kw: records.append(("debug", msg, kw)))
    monkeypatch.setattr(module.logger, "warning", lambda msg, **kw: records.append(("warning", msg, kw)))
    runtime.functions.invoke(logical_id, scheduled_event(logical_id, datetime(2026, 1, 1, tzinfo=UTC)))
    return records


def test_an_idle_tick_is_logged_at_debug(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    assert [level for level, *_ in _tick(runtime, monkeypatch, started=0, reconciled=0)] == ["debug"]


def test_a_busy_tick_and_its_fires_are_debug_records(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = _tick(runtime, monkeypatch, started=2, reconciled=1)
    assert [(level, msg) for level, msg, _ in records] == [
        ("debug", "dispatch tick"),
        ("debug", "schedule fired"),
        ("debug", "schedule fired"),
    ]
    assert records[0][2]["extra"]["started"] == 2 and records[0][2]["extra"]["reconciled"] == 1
    assert records[1][2]["extra"] == {
        "scheduleId": "sc_0",
        "executionId": "ex_0",
        "scheduledAt": "2026-01-01T00:00:00.000Z",
    }


def test_failed_fires_are_a_warning(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    records = _tick(runtime, monkeypatch, started=0, reconciled=0, failed=1)
    assert [level for level, *_ in records] == ["debug", "warning"]


def test_the_ticker_prints_one_short_line_per_fired_schedule(runtime: Runtime) -> None:
    lines: list[str] = []
    ticker = Ticker(runtime, interval=60, out=lines.append)
    ticker._announce(
        {"fired": [{"scheduleId": "sc_a", "executionId": "ex_a", "scheduledAt": "2026-01-01T00:00:00.000Z"}]}
    )
    ticker._announce({"fired": []})
    ticker._announce(None)
    assert lines == ["schedule sc_a fired ex_a (slot 2026-01-01T00:00:00.000Z)"]
