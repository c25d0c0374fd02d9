"""Settings read from the environment once per cold start. Nothing else in the core reads
os.environ, but shared/tracing.py (Lambda's and Powertools' variables, at import: it says why)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache

from orchestration_core.shared.limits import (
    DEFAULT_STATE_MACHINE_PREFIX,
    MAX_STATE_MACHINE_NAME,
    MAX_STATE_MACHINE_PREFIX,
    STATE_MACHINE_HASH_LENGTH,
)

# Characters a state machine name may use and CloudWatch logging accepts (Step Functions
# refuses whitespace, brackets, wildcards and most punctuation; stack names are [A-Za-z0-9-]).
_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
# template.yaml's TaskFunctionPrefix default (its AllowedPattern is _NAME_CHARACTERS, one or more).
DEFAULT_TASK_FUNCTION_PREFIX = "orchestration-task-"


# A dataclass, not a pydantic model: every function reads its settings at cold start, and the
# authorizer (in front of every request) and the task runner load no pydantic otherwise.
@dataclass(frozen=True)
class Settings:
    table_name: str
    aws_region: str = "us-east-1"
    # Largest request body a handler accepts (SPEC: 413 above 256 KiB).
    max_body_bytes: int = 256 * 1024
    # Executions: the task runner function, the role state machines run as, and the
    # deployment's custom task types (JSON object: type name -> Lambda function name or ARN).
    task_runner_arn: str = ""
    state_machine_role_arn: str = ""
    task_types: Mapping[str, str] = field(default_factory=dict)
    # State machines are named <prefix><40-character hash>. template.yaml sets the stack name
    # and a hyphen, and grants each function only machines with that prefix, so two stacks in
    # one account never touch each other's machines.
    state_machine_prefix: str = DEFAULT_STATE_MACHINE_PREFIX
    # Step Functions logging of the machines: a log group ARN ending in ":*" and a level
    # (ALL, ERROR, FATAL or OFF). No group: no logging.
    state_machine_log_group_arn: str = ""
    state_machine_log_level: str = "OFF"  # one of LOG_LEVELS
    # The dispatcher deletes a machine of this stack that nothing has started for this many
    # days (and that runs nothing and is no workflow's current version): see executions/machines.py.
    machine_gc_grace_days: float = 7
    # Metrics (orchestration_core.shared.metrics): their namespace, and the stack's name as a dimension.
    metrics_namespace: str = "Orchestration"
    stack_name: str = ""
    # Custom task types and `lambda` tasks may name only Lambda functions whose names start with
    # this (the stack's IAM lets the task runner invoke no other): see tasktypes/registry.py (check_function).
    task_function_prefix: str = DEFAULT_TASK_FUNCTION_PREFIX
    # The task runner's: comma-separated CIDRs http tasks may reach although they are internal
    # (tasktypes/netguard.py). Kept as text and read by each http task, not checked here: an
    # unreadable list fails the http tasks (refusing every internal address, naming the entry),
    # not every task of the runner at its cold start.
    http_task_allowed_cidrs: str = ""

    def __post_init__(self) -> None:
        if not self.table_name:
            raise ValueError("TABLE_NAME is not set: every function needs the table's name")
        _check_prefix(self.state_machine_prefix)
        _check_log_group_arn(self.state_machine_log_group_arn)
        _check_task_function_prefix(self.task_function_prefix)
        if self.state_machine_log_level not in LOG_LEVELS:
            level = self.state_machine_log_level
            raise ValueError(f"STATE_MACHINE_LOG_LEVEL {level!r} is not one of {', '.join(LOG_LEVELS)}")
        if not self.machine_gc_grace_days >= 0:
            raise ValueError(f"MACHINE_GC_GRACE_DAYS {self.machine_gc_grace_days!r} is not 0 or more")
        types = self.task_types
        if not isinstance(types, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in types.items()
        ):
            raise ValueError("TASK_TYPES must map each type name to a function name or ARN (strings)")


def _check_prefix(value: str) -> None:
    if not value or len(value) > MAX_STATE_MACHINE_PREFIX:
        raise ValueError(
            f"STATE_MACHINE_PREFIX {value!r} has {len(value)} characters; state machine names are the "
            f"prefix and a {STATE_MACHINE_HASH_LENGTH}-character hash, and Step Functions allows "
            f"{MAX_STATE_MACHINE_NAME}: use 1 to {MAX_STATE_MACHINE_PREFIX} (a stack name of at most "
            f"{MAX_STATE_MACHINE_PREFIX - 1} characters)"
        )
    if not set(value) <= _NAME_CHARACTERS:
        raise ValueError(f"STATE_MACHINE_PREFIX {value!r} may hold only letters, digits, '-' and '_'")


def _check_log_group_arn(value: str) -> None:
    if value and not (value.startswith("arn:") and ":log-group:" in value and value.endswith(":*")):
        raise ValueError(
            f"STATE_MACHINE_LOG_GROUP_ARN {value!r} is not a log group ARN ending in ':*' "
            "(what Step Functions' logging configuration takes)"
        )


def _check_task_function_prefix(value: str) -> None:
    if not value or not set(value) <= _NAME_CHARACTERS:
        raise ValueError(
            f"TASK_FUNCTION_PREFIX {value!r} must be 1 or more letters, digits, '-' and '_' "
            "(the start of a Lambda function name)"
        )


# The embedded runtime (orchestration_local) runs every function in one process: around each
# invocation it sets where that function's own settings come from. On Lambda nothing sets it.
settings_source: ContextVar[Callable[[], Settings] | None] = ContextVar("settings_source", default=None)


def get_settings() -> Settings:
    source = settings_source.get()
    return _environment_settings() if source is None else source()


@lru_cache(maxsize=1)
def _environment_settings() -> Settings:
    return settings_from(os.environ)


get_settings.cache_clear = _environment_settings.cache_clear  # type: ignore[attr-defined]


def settings_from(environ: Mapping[str, str]) -> Settings:
    return Settings(
        table_name=environ.get("TABLE_NAME", ""),
        task_runner_arn=environ.get("TASK_RUNNER_ARN", ""),
        state_machine_role_arn=environ.get("STATE_MACHINE_ROLE_ARN", ""),
        task_types=json.loads(environ.get("TASK_TYPES") or "{}"),
        aws_region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        state_machine_prefix=environ.get("STATE_MACHINE_PREFIX") or DEFAULT_STATE_MACHINE_PREFIX,
        state_machine_log_group_arn=environ.get("STATE_MACHINE_LOG_GROUP_ARN", ""),
        state_machine_log_level=environ.get("STATE_MACHINE_LOG_LEVEL") or "OFF",
        machine_gc_grace_days=float(environ.get("MACHINE_GC_GRACE_DAYS") or 7),
        metrics_namespace=environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Orchestration",
        stack_name=environ.get("STACK_NAME", ""),
        task_function_prefix=environ.get("TASK_FUNCTION_PREFIX") or DEFAULT_TASK_FUNCTION_PREFIX,
        http_task_allowed_cidrs=environ.get("HTTP_TASK_ALLOWED_CIDRS", ""),
    )
