"""Factories that wire repositories to the process's boto3 clients (cached per cold start)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from orchestration_core.auth import KeyStore
from orchestration_core.aws import client
from orchestration_core.config import get_settings
from orchestration_core.engine import Engine
from orchestration_core.executions import Services
from orchestration_core.runner import Runner
from orchestration_core.store.executions import ExecutionStore
from orchestration_core.store.table import Table
from orchestration_core.store.workflows import WorkflowStore
from orchestration_core.tasktypes import TaskTypeRegistry


@lru_cache(maxsize=1)
def table() -> Table:
    return Table(client("dynamodb"), get_settings().table_name)


@lru_cache(maxsize=1)
def engine() -> Engine:
    return Engine(client("stepfunctions"), get_settings().state_machine_role_arn)


def execution_services() -> Services:
    settings = get_settings()
    return Services(
        workflows=workflow_store(),
        executions=ExecutionStore(table()),
        registry=task_type_registry(),
        engine=engine(),
        runner_arn=settings.task_runner_arn,
    )


def task_type_registry() -> TaskTypeRegistry:
    return TaskTypeRegistry(table(), get_settings().task_types)


def runner() -> Runner:
    return Runner(ExecutionStore(table()), engine(), task_lambda_client())


@lru_cache(maxsize=1)
def task_lambda_client() -> Any:
    """For custom task types: waits as long as a Lambda may run (15 minutes), no retries."""
    return boto3.client(
        "lambda",
        region_name=get_settings().aws_region,
        config=Config(read_timeout=905, connect_timeout=5, retries={"mode": "standard", "max_attempts": 1}),
    )


def workflow_store() -> WorkflowStore:
    return WorkflowStore(table())


def key_store() -> KeyStore:
    return KeyStore(table())
