"""moto, in-process: start it, make it safe under threads, create the tables, keep the data.

This is the only module that reaches into moto's internals (moto is pinned to a minor
range in pyproject.toml; tests/integration/test_moto_hooks.py fails loudly if a hook stops
working):

- DynamoDB requests are serialised with one lock, so a conditional write is atomic with
  respect to other threads, as it is in DynamoDB.
- Writes mark the data dirty; a background thread snapshots the tables to the data directory,
  and the snapshot is loaded back at start, so a restart keeps what was stored.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

REGION = "us-east-1"
WRITE_ACTIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})

_dynamodb_lock = threading.RLock()
_dirty = threading.Event()
_installed = False


def set_local_environment() -> None:
    """Credentials and region for moto (never real ones: nothing here may reach AWS)."""
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"  # noqa: S105 - moto's dummy credentials
    os.environ["AWS_SESSION_TOKEN"] = "testing"  # noqa: S105
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION
    os.environ.pop("AWS_PROFILE", None)


def install_hooks() -> None:
    """Serialise moto's DynamoDB and track writes. Idempotent."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoHandler

    original: Callable[[Any], Any] = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _dynamodb_lock:
            result = original(self)
        if self._get_action() in WRITE_ACTIONS:
            _dirty.set()
        return result

    call_action.__wrapped__ = original  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _installed = True


def hooks_installed() -> bool:
    from moto.dynamodb.responses import DynamoHandler

    return hasattr(DynamoHandler.call_action, "__wrapped__")


def start_moto() -> Any:
    """Start moto for the whole process (state machines really execute)."""
    from moto import mock_aws

    set_local_environment()
    install_hooks()
    mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
    mock.start()
    return mock


def create_tables(tables: dict[str, dict[str, Any]], names: dict[str, str]) -> None:
    from orchestration_local.template import create_table_request

    client = boto3.client("dynamodb", region_name=REGION)
    existing = set(client.list_tables()["TableNames"])
    for logical_id, props in tables.items():
        if names[logical_id] not in existing:
            client.create_table(**create_table_request(props, names[logical_id]))


class Snapshots:
    """Tables saved as JSON lines (DynamoDB's own attribute-value format) in ``directory``."""

    def __init__(self, directory: Path, table_names: list[str]) -> None:
        self.directory = directory
        self.table_names = table_names
        self.client = boto3.client("dynamodb", region_name=REGION)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> int:
        count = 0
        for name in self.table_names:
            path = self.directory / f"{name}.jsonl"
            if not path.exists():
                continue
            batch: list[dict[str, Any]] = []
            for line in path.read_text().splitlines():
                if line.strip():
                    batch.append({"PutRequest": {"Item": json.loads(line)}})
                if len(batch) == 25:
                    self._write(name, batch)
                    count += len(batch)
                    batch = []
            if batch:
                self._write(name, batch)
                count += len(batch)
        _dirty.clear()
        return count

    def _write(self, table: str, batch: list[dict[str, Any]]) -> None:
        request: dict[str, Any] = {table: batch}
        while request:
            request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    def save(self) -> None:
        _dirty.clear()
        self.directory.mkdir(parents=True, exist_ok=True)
        for name in self.table_names:
            tmp = self.directory / f".{name}.jsonl.tmp"
            with tmp.open("w") as out:
                for page in self.client.get_paginator("scan").paginate(TableName=name):
                    for item in page["Items"]:
                        out.write(json.dumps(item, separators=(",", ":")) + "\n")
            tmp.replace(self.directory / f"{name}.jsonl")

    def start(self, interval: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                if _dirty.is_set():
                    self.save()

        self._thread = threading.Thread(target=loop, name="snapshots", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.save()
