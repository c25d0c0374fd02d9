"""FakeWorkflowStore: the WorkflowRepository of workflows/usecases.py, in memory."""

from __future__ import annotations

import threading

from orchestration_core.shared.pagination import Cursor, Page
from orchestration_core.shared.table import ConditionFailed
from orchestration_core.workflows.models import Workflow

from tests.fakes.pages import page_of


class FakeWorkflowStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Workflow] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def get(self, tenant_id: str, workflow_id: str) -> Workflow | None:
        return self.items.get((tenant_id, workflow_id))

    def create(self, wf: Workflow) -> None:
        """ConditionFailed(0) if the id exists (``attribute_not_exists(PK)``)."""
        with self._lock:
            if (wf.tenant_id, wf.id) in self.items:
                raise ConditionFailed(0)
            self.items[(wf.tenant_id, wf.id)] = wf
            self.writes += 1

    def replace(self, old: Workflow, new: Workflow) -> None:
        """ConditionFailed(0) unless the stored workflow is still at ``old.revision``."""
        with self._lock:
            stored = self.items.get((old.tenant_id, old.id))
            if stored is None or stored.revision != old.revision:
                raise ConditionFailed(0)
            self.items[(new.tenant_id, new.id)] = new
            self.writes += 1

    def delete(self, wf: Workflow) -> None:
        with self._lock:
            stored = self.items.get((wf.tenant_id, wf.id))
            if stored is None or stored.revision != wf.revision:
                raise ConditionFailed(0)
            del self.items[(wf.tenant_id, wf.id)]
            self.writes += 1

    def page(self, tenant_id: str, status: str | None, limit: int, position: Cursor | int) -> Page[Workflow]:
        mine = [
            wf
            for (tenant, _), wf in self.items.items()
            if tenant == tenant_id and (status is None or wf.status.value == status)
        ]
        return page_of(mine, lambda wf: wf.id, limit, position)
