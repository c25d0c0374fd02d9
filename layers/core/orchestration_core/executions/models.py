"""An execution and its task runs, as the use cases and stores see them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from orchestration_core.workflows.models import TaskDef, TaskStatus


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}


@dataclass(frozen=True)
class TaskRun:
    """What happened to one task in one execution."""

    name: str
    status: TaskStatus = TaskStatus.PENDING
    started_at: str | None = None
    completed_at: str | None = None
    attempts: int = 0
    result: Any = None
    error: dict[str, Any] | None = None
    wait_token: str | None = None
    # Attempts made by earlier launches of the execution (before a redrive or a resume): a
    # launch's attempts count on from here.
    prior_attempts: int = 0
    # A gated task (non-series-parallel graphs): how many of its dependencies hold its gate,
    # and which of them have reported completed. Its parked token is released once all have.
    gate: int = 0
    gate_done: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Execution:
    id: str
    tenant_id: str
    workflow_id: str
    workflow_version: int
    status: ExecutionStatus
    tasks: tuple[TaskDef, ...]
    parameters: dict[str, Any]
    started_at: str
    state_machine_arn: str
    completed_at: str | None = None
    error: dict[str, Any] | None = None
    trigger: dict[str, Any] | None = None
    runs: dict[str, TaskRun] = field(default_factory=dict)
    # The Step Functions execution's name: the id for the first launch; ``<id>.2``, ``<id>.3``
    # ... for each later one (a redrive, a resume after a restart, a start lost in flight).
    sfn_name: str = ""
    redrive_count: int = 0
    redriven_at: str | None = None

    @property
    def launch(self) -> int:
        """Which launch of this execution the record is on (1 for the first)."""
        _, _, suffix = (self.sfn_name or self.id).rpartition(".")
        return int(suffix) if self.sfn_name and suffix.isdigit() else 1

    def next_launch_name(self) -> str:
        return f"{self.id}.{self.launch + 1}"

    @property
    def sfn_execution_arn(self) -> str:
        return (
            self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{self.sfn_name or self.id}"
        )

    @property
    def etag(self) -> str:
        """A strong ETag of what GET /executions/{id} shows: it changes when anything shown does
        (the status, an error, a redrive, any task's status, attempts, times, result or error)."""
        shown = [
            self.status.value,
            self.completed_at,
            self.error,
            self.redrive_count,
            self.redriven_at,
            [
                [r.name, r.status.value, r.started_at, r.completed_at, r.attempts, r.result, r.error]
                for r in self.task_runs()
            ],
        ]
        text = json.dumps(shown, sort_keys=True, default=str, separators=(",", ":"))
        return '"' + hashlib.blake2b(text.encode(), digest_size=12).hexdigest() + '"'

    def task_runs(self) -> list[TaskRun]:
        """Each task's run in definition order, settled once the execution ended: a task that
        never started is ``skipped`` (an upstream failed or the execution was cancelled), and
        one still recorded ``running`` was interrupted (cancelled, stopped by another task's
        failure, or its machine ended) and is ``cancelled`` at the execution's end."""
        out = []
        for task in self.tasks:
            run = self.runs.get(task.name) or TaskRun(task.name)
            if self.status.terminal and run.status == TaskStatus.PENDING:
                run = replace(run, status=TaskStatus.SKIPPED, wait_token=None)
            elif self.status.terminal and run.status == TaskStatus.RUNNING:
                run = replace(
                    run,
                    status=TaskStatus.CANCELLED,
                    completed_at=run.completed_at or self.completed_at,
                    wait_token=None,
                )
            out.append(run)
        return out
