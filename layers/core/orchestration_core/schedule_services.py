"""Factories for the schedules functions (beside services.py, which they reuse)."""

from __future__ import annotations

from orchestration_core.services import table
from orchestration_core.store.schedules import ScheduleStore


def schedule_store() -> ScheduleStore:
    return ScheduleStore(table())
