"""Factories that wire repositories to the process's boto3 clients (cached per cold start)."""

from __future__ import annotations

from functools import lru_cache

from orchestration_core.auth import KeyStore
from orchestration_core.aws import client
from orchestration_core.config import get_settings
from orchestration_core.store.table import Table
from orchestration_core.store.workflows import WorkflowStore


@lru_cache(maxsize=1)
def table() -> Table:
    return Table(client("dynamodb"), get_settings().table_name)


def workflow_store() -> WorkflowStore:
    return WorkflowStore(table())


def key_store() -> KeyStore:
    return KeyStore(table())
