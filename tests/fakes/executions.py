"""FakeExecutionStore: execution records, idempotency keys and task runs in memory, with the
conditions of executions/store.py's ExecutionStore (the runner's RunRecords and what the
execution use cases call)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from orchestration_core.executions.models import Execution, ExecutionStatus, TaskRun
from orchestration_core.executions.store import IDEMPOTENCY_TTL_SECONDS, active_shard
from orchestration_core.shared.pagination import Cursor, Page
from orchestration_core.shared.table import ConditionFailed
from orchestration_core.workflows.models import TaskStatus

from tests.fakes.pages import page_of

_ENDED = {TaskStatus.COMPLETED, TaskStatus.FAILED}
Key = tuple[str, str]


class FakeExecutionStore:
    def __init__(self) -> None:
        self.records: dict[Key, Execution] = {}  # without runs
        self.task_runs: dict[Key, dict[str, TaskRun]] = {}
        self.idempotency: dict[Key, dict[str, Any]] = {}
        self.checks: dict[Key, str] = {}  # the active index: next check of a pending/running one
        self._lock = threading.RLock()

    # -- executions ----------------------------------------------------------------------------
    def create(self, ex: Execution, idempotency_key: str | None = None) -> None:
        """All or nothing: ConditionFailed(0) if the key is taken (and not expired), then
        ConditionFailed(index of the record's put) if an execution with this id exists."""
        with self._lock:
            now = int(time.time())
            if idempotency_key is not None:
                held = self.idempotency.get((ex.tenant_id, idempotency_key))
                if held is not None and not held["expiresAt"] < now:
                    raise ConditionFailed(0)
            if (ex.tenant_id, ex.id) in self.records:
                raise ConditionFailed(0 if idempotency_key is None else 1)
            if idempotency_key is not None:
                self.idempotency[(ex.tenant_id, idempotency_key)] = {
                    "executionId": ex.id,
                    "workflowId": ex.workflow_id,
                    "expiresAt": now + IDEMPOTENCY_TTL_SECONDS,
                }
            self.records[(ex.tenant_id, ex.id)] = replace(ex, runs={})
            if not ex.status.terminal:
                self.checks[(ex.tenant_id, ex.id)] = ex.started_at

    def idempotent_match(self, tenant_id: str, key: str) -> dict[str, Any] | None:
        item = self.idempotency.get((tenant_id, key))
        if item is None or int(item["expiresAt"]) < time.time():
            return None
        return dict(item)

    def delete(self, ex: Execution, idempotency_key: str | None = None) -> None:
        """ConditionFailed(0) unless the record is still at ``ex.status``."""
        with self._lock:
            stored = self.records.get((ex.tenant_id, ex.id))
            if stored is None or stored.status != ex.status:
                raise ConditionFailed(0)
            del self.records[(ex.tenant_id, ex.id)]
            self.checks.pop((ex.tenant_id, ex.id), None)
            if idempotency_key is not None:
                self.idempotency.pop((ex.tenant_id, idempotency_key), None)

    def partition(self, tenant_id: str, execution_id: str) -> str:
        return f"T#{tenant_id}#EX#{execution_id}"

    def get(self, tenant_id: str, execution_id: str, with_runs: bool = True) -> Execution | None:
        stored = self.records.get((tenant_id, execution_id))
        if stored is None or not with_runs:
            return stored
        return replace(stored, runs=dict(self.task_runs.get((tenant_id, execution_id), {})))

    def transition(
        self, ex: Execution, status: ExecutionStatus, completed_at: str | None, error: dict[str, Any] | None
    ) -> bool:
        """Move to ``status`` if the record is still at ``ex.status`` (False if it moved on)."""
        with self._lock:
            stored = self.records.get((ex.tenant_id, ex.id))
            if stored is None or stored.status != ex.status:
                return False
            changes: dict[str, Any] = {"status": status}
            if completed_at is not None:
                changes["completed_at"] = completed_at
            if error:
                changes["error"] = error
            self.records[(ex.tenant_id, ex.id)] = replace(stored, **changes)
            if status.terminal:
                self.checks.pop((ex.tenant_id, ex.id), None)
            return True

    def rename_run(self, ex: Execution, sfn_name: str) -> bool:
        with self._lock:
            stored = self.records.get((ex.tenant_id, ex.id))
            if stored is None or stored.status != ExecutionStatus.PENDING:
                return False
            self.records[(ex.tenant_id, ex.id)] = replace(stored, sfn_name=sfn_name)
            return True

    def relaunch(self, ex: Execution, machine_arn: str, sfn_name: str, now: str, redrive: bool) -> bool:
        """Claim the next launch if the record is still at ``ex``'s status and launch; a redrive
        turns it running again (one more redrive, no end time or error)."""
        with self._lock:
            key = (ex.tenant_id, ex.id)
            stored = self.records.get(key)
            if stored is None or stored.status != ex.status or stored.sfn_name != ex.sfn_name:
                return False
            changes: dict[str, Any] = {"state_machine_arn": machine_arn, "sfn_name": sfn_name}
            if redrive:
                changes.update(
                    status=ExecutionStatus.RUNNING,
                    redrive_count=stored.redrive_count + 1,
                    redriven_at=now,
                    completed_at=None,
                    error=None,
                )
            self.records[key] = replace(stored, **changes)
            self.checks[key] = now
            return True

    def reset_unfinished(self, ex: Execution) -> None:
        """Every run that did not complete is pending again, its attempts kept as prior ones."""
        with self._lock:
            runs = self.task_runs.get((ex.tenant_id, ex.id), {})
            for task in ex.tasks:
                seen, run = ex.runs.get(task.name), runs.get(task.name)
                if seen is None or seen.status == TaskStatus.COMPLETED:
                    continue
                if run is not None and run.status != TaskStatus.COMPLETED:  # one completed meanwhile stays
                    runs[task.name] = replace(
                        run,
                        status=TaskStatus.PENDING,
                        prior_attempts=run.attempts,
                        started_at=None,
                        completed_at=None,
                        error=None,
                        wait_token=None,
                    )

    def due_for_check(self, shard: int, now: str, limit: int) -> list[Execution]:
        with self._lock:
            due = sorted(
                (check, key)
                for key, check in self.checks.items()
                if active_shard(key[1]) == shard and check <= now + "~"
            )
            return [self.records[key] for _, key in due[:limit]]

    def active(self, shard: int) -> Iterator[Execution]:
        with self._lock:
            keys = [key for key in self.checks if active_shard(key[1]) == shard]
            return iter([self.records[key] for key in keys])

    def check_later(self, ex: Execution, check_at: str) -> None:
        with self._lock:
            if (ex.tenant_id, ex.id) in self.checks:
                self.checks[(ex.tenant_id, ex.id)] = check_at

    def page(
        self, tenant_id: str, workflow_id: str | None, status: str | None, limit: int, position: Cursor | int
    ) -> Page[Execution]:
        mine = [
            ex
            for (tenant, _), ex in self.records.items()
            if tenant == tenant_id
            and (workflow_id is None or ex.workflow_id == workflow_id)
            and (status is None or ex.status.value == status)
        ]
        return page_of(mine, lambda ex: ex.id, limit, position)

    def latest_for_workflow(self, tenant_id: str, workflow_id: str) -> Execution | None:
        first = self.page(tenant_id, workflow_id, None, 1, 0).items
        return self.get(tenant_id, first[0].id) if first else None

    # -- task runs -------------------------------------------------------------------------------
    def runs(self, tenant_id: str, execution_id: str, names: list[str]) -> dict[str, TaskRun]:
        return self.read(tenant_id, execution_id, names, with_record=False)[1]

    def read(
        self, tenant_id: str, execution_id: str, names: list[str], with_record: bool
    ) -> tuple[Execution | None, dict[str, TaskRun]]:
        runs = self.task_runs.get((tenant_id, execution_id), {})
        record = self.records.get((tenant_id, execution_id)) if with_record else None
        return record, {n: runs[n] for n in names if n in runs}

    def mark_run_running(
        self, tenant_id: str, execution_id: str, name: str, attempts: int, now: str
    ) -> tuple[bool, TaskRun | None]:
        return self._write(
            tenant_id,
            execution_id,
            name,
            lambda run: run is None or run.status not in _ENDED,
            lambda run: replace(
                run,
                status=TaskStatus.RUNNING,
                started_at=run.started_at or now,
                attempts=run.prior_attempts + attempts,
            ),
        )

    def fail_run_unless_ended(
        self, tenant_id: str, execution_id: str, name: str, error: str, attempts: int, now: str
    ) -> None:
        self._write(
            tenant_id,
            execution_id,
            name,
            lambda run: run is None or run.status not in _ENDED,
            lambda run: replace(
                run,
                status=TaskStatus.FAILED,
                completed_at=now,
                error=json.loads(error),
                started_at=run.started_at or now,
                attempts=run.prior_attempts + attempts,
            ),
        )

    def record_run_error_if_running(self, tenant_id: str, execution_id: str, name: str, error: str) -> None:
        self._write(
            tenant_id,
            execution_id,
            name,
            lambda run: run is not None and run.status == TaskStatus.RUNNING,
            lambda run: replace(run, error=json.loads(error)),
        )

    def complete_run_if_running(
        self, tenant_id: str, execution_id: str, name: str, result: str, attempts: int, now: str
    ) -> tuple[bool, TaskRun | None]:
        """(True, None): the store's write returns nothing; (False, the run as it is)."""
        written, run = self._write(
            tenant_id,
            execution_id,
            name,
            lambda run: run is not None and run.status == TaskStatus.RUNNING,
            lambda run: replace(
                run,
                status=TaskStatus.COMPLETED,
                completed_at=now,
                result=json.loads(result),
                error=None,
                attempts=run.prior_attempts + attempts,
            ),
        )
        return (True, None) if written else (False, run)

    def park_run_if_pending(
        self, tenant_id: str, execution_id: str, name: str, token: str, gate: int | None
    ) -> tuple[bool, TaskRun | None]:
        return self._write(
            tenant_id,
            execution_id,
            name,
            lambda run: run is None or run.status == TaskStatus.PENDING,
            lambda run: replace(
                run, status=TaskStatus.PENDING, wait_token=token, gate=run.gate if gate is None else gate
            ),
        )

    def mark_dependency_done(
        self, tenant_id: str, execution_id: str, name: str, dependency: str
    ) -> TaskRun | None:
        _, run = self._write(
            tenant_id,
            execution_id,
            name,
            lambda run: True,
            lambda run: replace(run, gate_done=run.gate_done | {dependency}),
        )
        return run

    def _write(
        self,
        tenant_id: str,
        execution_id: str,
        name: str,
        condition: Callable[[TaskRun | None], bool],
        change: Callable[[TaskRun], TaskRun],
    ) -> tuple[bool, TaskRun | None]:
        """One conditional update of a run item: (True, the run as written) or (False, the run as
        it is; None if there is none). A missing item starts as a pending run, as UpdateItem
        creates it."""
        with self._lock:
            runs = self.task_runs.setdefault((tenant_id, execution_id), {})
            current = runs.get(name)
            if not condition(current):
                return False, current
            runs[name] = change(current or TaskRun(name=name))
            return True, runs[name]
