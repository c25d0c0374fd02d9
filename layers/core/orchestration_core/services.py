"""The composition root: factories that wire use cases and stores to the process's boto3
clients, each made once per cold start.

What every factory needs (boto3 clients, the table) is imported here; what only some factories
wire is imported by the factory when it is first called, so a function does not load the
runner, the key store or use cases its handler never calls (bench/cold_imports.py measures
every handler).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from orchestration_core.shared.aws import client
from orchestration_core.shared.config import get_settings
from orchestration_core.shared.table import Table

if TYPE_CHECKING:
    from orchestration_core.auth.store import KeyStore
    from orchestration_core.engine.stepfunctions import Engine
    from orchestration_core.executions.runner import Runner
    from orchestration_core.executions.usecases import Services
    from orchestration_core.schedules.store import ScheduleStore
    from orchestration_core.tasktypes.store import TaskTypeRegistry
    from orchestration_core.workflows.store import WorkflowStore


@lru_cache(maxsize=1)
def table() -> Table:
    return Table(client("dynamodb"), get_settings().table_name)


@lru_cache(maxsize=1)
def engine() -> Engine:
    from orchestration_core.engine.stepfunctions import Engine

    settings = get_settings()
    return Engine(
        client("stepfunctions"),
        settings.state_machine_role_arn,
        prefix=settings.state_machine_prefix,
        log_group_arn=settings.state_machine_log_group_arn,
        log_level=settings.state_machine_log_level,
    )


def execution_services() -> Services:
    from orchestration_core.executions.store import ExecutionStore
    from orchestration_core.executions.usecases import Services

    settings = get_settings()
    return Services(
        workflows=workflow_store(),
        executions=ExecutionStore(table()),
        registry=task_type_registry(),
        engine=engine(),
        runner_arn=settings.task_runner_arn,
    )


def task_type_registry() -> TaskTypeRegistry:
    from orchestration_core.tasktypes.store import TaskTypeRegistry

    return TaskTypeRegistry(table(), get_settings().task_types)


def runner() -> Runner:
    from orchestration_core.executions.runner import Runner
    from orchestration_core.executions.store import ExecutionStore

    return Runner(ExecutionStore(table()), engine(), task_lambda_client())


# How long the task runner waits for a custom task's function: its 900 s Timeout (template.yaml)
# less 5 s to connect and 15 s to record the outcome (tests/unit/test_stack_isolation.py).
TASK_INVOKE_CONNECT_TIMEOUT = 5
TASK_INVOKE_READ_TIMEOUT = 880


@lru_cache(maxsize=1)
def task_lambda_client() -> Any:
    """For custom task types: no retries, and a wait that gives up before the task runner's own
    Timeout (900 s in template.yaml), so the runner reports the timeout as the task's error
    instead of being killed mid-call."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        region_name=get_settings().aws_region,
        config=Config(
            read_timeout=TASK_INVOKE_READ_TIMEOUT,
            connect_timeout=TASK_INVOKE_CONNECT_TIMEOUT,
            retries={"mode": "standard", "max_attempts": 1},
        ),
    )


def workflow_store() -> WorkflowStore:
    from orchestration_core.workflows.store import WorkflowStore

    return WorkflowStore(table())


def key_store() -> KeyStore:
    from orchestration_core.auth.store import KeyStore

    return KeyStore(table())


def schedule_store() -> ScheduleStore:
    from orchestration_core.schedules.store import ScheduleStore

    return ScheduleStore(table())
