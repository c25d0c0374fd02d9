"""FakeScheduleStore: the ScheduleRepository of schedules/usecases.py, in memory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

from orchestration_core.schedules.models import Schedule
from orchestration_core.schedules.store import shard_of
from orchestration_core.shared.pagination import Cursor, Page
from orchestration_core.shared.table import ConditionFailed

from tests.fakes.pages import page_of


class FakeScheduleStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Schedule] = {}
        self.saves = 0
        self._lock = threading.Lock()

    def get(self, tenant_id: str, schedule_id: str) -> Schedule | None:
        return self.items.get((tenant_id, schedule_id))

    def create(self, sc: Schedule) -> None:
        with self._lock:
            if (sc.tenant_id, sc.id) in self.items:
                raise ConditionFailed(0)
            self.items[(sc.tenant_id, sc.id)] = sc

    def save(self, old: Schedule, new: Schedule) -> Schedule:
        """``new`` at ``old.revision + 1`` if the stored schedule is still at ``old.revision``;
        else ConditionFailed."""
        with self._lock:
            stored = self.items.get((old.tenant_id, old.id))
            if stored is None or stored.revision != old.revision:
                raise ConditionFailed(0)
            new = replace(new, revision=old.revision + 1)
            self.items[(old.tenant_id, old.id)] = new
            self.saves += 1
            return new

    def delete(self, sc: Schedule) -> None:
        with self._lock:
            stored = self.items.get((sc.tenant_id, sc.id))
            if stored is None or stored.revision != sc.revision:
                raise ConditionFailed(0)
            del self.items[(sc.tenant_id, sc.id)]

    def page(
        self, tenant_id: str, workflow_id: str | None, limit: int, position: Cursor | int
    ) -> Page[Schedule]:
        mine = [
            sc
            for (tenant, _), sc in self.items.items()
            if tenant == tenant_id and (workflow_id is None or sc.workflow_id == workflow_id)
        ]
        return page_of(mine, lambda sc: sc.id, limit, position)

    def of_workflow(self, tenant_id: str, workflow_id: str) -> Iterator[Schedule]:
        yield from [
            sc for sc in self.items.values() if (sc.tenant_id, sc.workflow_id) == (tenant_id, workflow_id)
        ]

    def due_pages(self, shard: int, now_iso: str, page_size: int = 500) -> Iterator[list[Schedule]]:
        """The shard's schedules due at ``now_iso``, oldest due first, as read now (consistent)."""
        due = sorted(
            (
                sc
                for sc in self.items.values()
                if shard_of(sc.id) == shard and sc.due_at is not None and sc.due_at <= now_iso
            ),
            key=lambda sc: (sc.due_at or "", sc.id),
        )
        for first in range(0, len(due), page_size):
            yield due[first : first + page_size]
