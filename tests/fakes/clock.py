"""A clock the test moves by hand, installed where the core reads the time (shared/clock.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from orchestration_core.shared import clock, table


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
        """Every ``clock.now()``/``clock.now_iso()`` of the core answers this clock; the backoff
        of a write that lost a race does not sleep."""
        monkeypatch.setattr(clock, "now", self.now)
        monkeypatch.setattr(table, "backoff", lambda attempt: None)
        return self
