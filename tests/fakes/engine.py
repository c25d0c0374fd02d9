"""FakeEngine and FakeRegistry: Step Functions and the task type registry as the execution use
cases and the runner call them, in memory. A start records the execution as RUNNING; tests
end it (``finish``) or make the next calls fail (``fail_next``)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from orchestration_core.engine.stepfunctions import ExecutionMissing

ARN = "arn:aws:states:us-east-1:123456789012"


class FakeEngine:
    prefix = "orch-"

    def __init__(self) -> None:
        self.machines: dict[str, dict[str, Any]] = {}
        self.executions: dict[str, dict[str, Any]] = {}  # execution ARN -> describe answer
        self.starts: list[tuple[str, str, dict[str, Any]]] = []
        self.released: list[str] = []
        self.failures: list[Exception] = []

    def fail_next(self, *errors: Exception) -> None:
        self.failures.extend(errors)

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def ensure_state_machine(self, definition: dict[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:40]
        arn = f"{ARN}:stateMachine:{self.prefix}{digest}"
        self.machines[arn] = definition
        return arn

    def start(self, state_machine_arn: str, execution_id: str, payload: dict[str, Any]) -> bool:
        """Start once by name: a repeat is a no-op (True while it runs, False once it ended)."""
        self._maybe_fail()
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{execution_id}"
        if arn in self.executions:
            return bool(self.executions[arn]["status"] == "RUNNING")
        self.executions[arn] = {"executionArn": arn, "status": "RUNNING", "input": payload}
        self.starts.append((state_machine_arn, execution_id, payload))
        return True

    def forget(self, state_machine_arn: str) -> None:
        self.machines.pop(state_machine_arn, None)

    def describe(self, execution_arn: str) -> dict[str, Any]:
        if execution_arn not in self.executions:
            raise ExecutionMissing(execution_arn)
        return dict(self.executions[execution_arn])

    def delete_machine(self, machine_arn: str) -> None:
        self.machines.pop(machine_arn, None)

    def executions_of(
        self, machine_arn: str, running_only: bool = False, limit: int = 1
    ) -> list[dict[str, Any]]:
        """The machine's executions, newest first."""
        prefix = machine_arn.replace(":stateMachine:", ":execution:") + ":"
        mine = [
            dict(ex)
            for arn, ex in reversed(self.executions.items())
            if arn.startswith(prefix) and (not running_only or ex["status"] == "RUNNING")
        ]
        return mine[:limit]

    def list_machines(self, token: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        arns = sorted(self.machines)
        first = int(token or 0)
        page = [
            {"stateMachineArn": arn, "name": arn.rsplit(":", 1)[1]} for arn in arns[first : first + limit]
        ]
        return page, (str(first + limit) if first + limit < len(arns) else None)

    def finish(self, execution_arn: str, status: str = "SUCCEEDED") -> None:
        self.executions[execution_arn]["status"] = status

    def stop(self, execution_arn: str) -> None:
        self.describe(execution_arn)
        self.finish(execution_arn, "ABORTED")

    def release(self, token: str) -> None:
        self.released.append(token)


class FakeRegistry:
    """Custom task types by tenant (none unless given): ``resolve`` answers the ones it knows."""

    def __init__(self, functions: dict[str, str] | None = None) -> None:
        self.functions = functions or {}

    def resolve(self, tenant_id: str, names: set[str]) -> dict[str, str]:
        return {n: self.functions[n] for n in names if n in self.functions}
