"""Step Functions, behind one small class that takes its client as an argument."""

from __future__ import annotations

import json
import threading
from typing import Any

from botocore.exceptions import ClientError

from orchestration_core.engine.compiler import state_machine_name
from orchestration_core.shared.errors import EngineThrottled, EngineUnavailable, Unprocessable
from orchestration_core.shared.limits import DEFAULT_STATE_MACHINE_PREFIX

_THROTTLING = {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}


class ExecutionMissing(Exception):
    """Step Functions has no execution by that ARN."""


class MachineMissing(Exception):
    """The state machine was deleted (e.g. an operator cleaned up the stack's old machines)."""


class Engine:
    def __init__(
        self,
        sfn: Any,
        role_arn: str,
        prefix: str = DEFAULT_STATE_MACHINE_PREFIX,
        log_group_arn: str = "",
        log_level: str = "OFF",
    ) -> None:
        self.sfn = sfn
        self.role_arn = role_arn
        self.prefix = prefix
        self.logging = _logging_configuration(log_group_arn, log_level)
        self._known: dict[str, str] = {}  # state machine name -> ARN (per process)
        self._lock = threading.Lock()

    def ensure_state_machine(self, definition: dict[str, Any]) -> str:
        """The ARN of the state machine for ``definition``, created on first use.

        Names are content hashes, so an unchanged definition always maps to the same machine
        and no execution ever changes a machine another execution is running on.
        """
        name = state_machine_name(definition, self.prefix)
        if name in self._known:
            return self._known[name]
        options: dict[str, Any] = {"roleArn": self.role_arn}
        if self.logging is not None:
            options["loggingConfiguration"] = self.logging
        try:
            arn: str = self.sfn.create_state_machine(
                name=name, definition=json.dumps(definition), type="STANDARD", **options
            )["stateMachineArn"]
        except ClientError as err:
            if err.response["Error"]["Code"] != "StateMachineAlreadyExists":
                raise _problem(err) from err
            # Same name, same definition: only the role and the logging can differ (e.g. a
            # redeployed stack with another log level).
            arn = self._arn_for(name)
            self.sfn.update_state_machine(stateMachineArn=arn, **options)
        with self._lock:
            self._known[name] = arn
        return arn

    def _arn_for(self, name: str) -> str:
        _, partition, _, _, account, _ = self.role_arn.split(":", 5)
        region = self.sfn.meta.region_name
        return f"arn:{partition}:states:{region}:{account}:stateMachine:{name}"

    def start(self, state_machine_arn: str, execution_id: str, payload: dict[str, Any]) -> bool:
        """Start once: the execution name is the execution id, so a repeated start is a no-op.

        Returns False when an execution of that name exists but has already ended: a start
        that failed and went through later, after its record was given up on. Nothing of this
        record will run under that name.
        """
        try:
            self.sfn.start_execution(
                stateMachineArn=state_machine_arn, name=execution_id, input=json.dumps(payload)
            )
            return True
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code == "ExecutionAlreadyExists":
                arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{execution_id}"
                try:
                    return self.describe(arn).get("status") == "RUNNING"
                except ExecutionMissing:
                    return True
            if code == "StateMachineDoesNotExist":
                raise MachineMissing(state_machine_arn) from None
            raise _problem(err) from err

    def forget(self, state_machine_arn: str) -> None:
        """Drop a cached machine (it was deleted behind our back): the next use re-creates it."""
        with self._lock:
            for name, arn in list(self._known.items()):
                if arn == state_machine_arn:
                    del self._known[name]

    # -- the stack's machines, for garbage collection (orchestration_core.executions.machines) ----------
    def list_machines(self, token: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ListStateMachines (every machine of the account and region; the caller
        picks this stack's by name) and the token of the next page (None after the last).
        An expired token (Step Functions keeps them 24 h) starts again from the first page."""
        kwargs: dict[str, Any] = {"maxResults": limit}
        if token:
            kwargs["nextToken"] = token
        try:
            resp = self.sfn.list_state_machines(**kwargs)
        except ClientError as err:
            if token and err.response["Error"]["Code"] == "InvalidToken":
                return self.list_machines(None, limit)
            raise _problem(err) from err
        machines: list[dict[str, Any]] = resp.get("stateMachines", [])
        return machines, resp.get("nextToken")

    def executions_of(
        self, machine_arn: str, running_only: bool = False, limit: int = 1
    ) -> list[dict[str, Any]]:
        """The machine's newest executions (Step Functions lists the most recent first)."""
        kwargs: dict[str, Any] = {"stateMachineArn": machine_arn, "maxResults": limit}
        if running_only:
            kwargs["statusFilter"] = "RUNNING"
        try:
            executions: list[dict[str, Any]] = self.sfn.list_executions(**kwargs).get("executions", [])
            return executions
        except ClientError as err:
            if err.response["Error"]["Code"] == "StateMachineDoesNotExist":
                raise MachineMissing(machine_arn) from None
            raise _problem(err) from err

    def delete_machine(self, machine_arn: str) -> None:
        """Delete a machine (asynchronous in Step Functions: DELETING, then gone). This process
        forgets it at once; another process that still has it cached re-creates it on its next
        start (``MachineMissing``)."""
        try:
            self.sfn.delete_state_machine(stateMachineArn=machine_arn)
        except ClientError as err:
            if err.response["Error"]["Code"] != "StateMachineDoesNotExist":
                raise _problem(err) from err
        self.forget(machine_arn)

    def describe(self, execution_arn: str) -> dict[str, Any]:
        try:
            result: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            return result
        except ClientError as err:
            if err.response["Error"]["Code"] == "ExecutionDoesNotExist":
                raise ExecutionMissing(execution_arn) from None
            raise _problem(err) from err

    def stop(self, execution_arn: str) -> None:
        try:
            self.sfn.stop_execution(
                executionArn=execution_arn, error="Cancelled", cause="Cancelled through the API"
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ExecutionDoesNotExist":
                raise ExecutionMissing(execution_arn) from None
            raise _problem(err) from err

    def release(self, token: str) -> None:
        """Let a gated task start (its dependencies completed). A spent token is fine."""
        try:
            self.sfn.send_task_success(taskToken=token, output="{}")
        except ClientError as err:
            if err.response["Error"]["Code"] not in {"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"}:
                raise


def _logging_configuration(log_group_arn: str, level: str) -> dict[str, Any] | None:
    """Step Functions' loggingConfiguration: the level into the group (execution data left
    out: task parameters and results may be sensitive, and they are in the table anyway).
    No group: the machines get none (AWS's default, no logging)."""
    if not log_group_arn:
        return None
    if level == "OFF":
        return {"level": "OFF"}
    return {
        "level": level,
        "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}],
    }


def _problem(err: ClientError) -> Exception:
    code = err.response["Error"]["Code"]
    if code in {"InvalidDefinition", "ValidationException"}:
        return Unprocessable(
            f"Step Functions refused the compiled state machine: {err.response['Error'].get('Message')}"
        )
    if code in _THROTTLING:
        return EngineThrottled("Step Functions is throttling requests; retry shortly.")
    return EngineUnavailable(f"Step Functions refused the request ({code}); retry shortly.")
