"""moto, in-process: start it, make it safe under threads, create the tables, keep the data.

This is the only module that reaches into moto's internals (moto is pinned to a minor
range in pyproject.toml; tests/integration/test_moto_hooks.py fails loudly if a hook stops
working):

- DynamoDB requests are serialised with one lock, so a conditional write is atomic with
  respect to other threads, as it is in DynamoDB.
- Lambda invocations (Step Functions' Task states) run in-process: ``LambdaFunction._invoke_lambda``
  is routed to the Python callable registered for the function's name (moto would need Docker).
- A DynamoDB transaction backs up only the items it touches (moto deep-copies every table it
  touches, once per operation: 2 s and ~26 MB per write with 5,000 items stored), and moto's
  registry of every model instance ever created (kept for its dashboard) is emptied now and
  then, so a long-running server neither slows down nor grows with each write.
- Writes mark the data dirty; a background thread snapshots the tables to the data directory,
  and the snapshot is loaded back at start, so a restart keeps what was stored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
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
    _install_transaction_hook()
    _installed = True


_writes = 0


def _forget_tracked_instances() -> None:
    """moto appends every model instance to a class-level list for its dashboard; drop them."""
    global _writes
    _writes += 1
    if _writes % 500 == 0:
        from moto.core.model_instances import reset_model_data

        reset_model_data()


def _install_transaction_hook() -> None:
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.exceptions import (
        MockValidationException,
        MultipleTransactionsException,
        TransactionCanceledException,
    )

    class _NoTableCopies:
        """moto backs up whole tables with copy.deepcopy; hand tables back uncopied instead
        (the wrapper below restores the touched items itself)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, models.Table):  # type: ignore[attr-defined]
                return value
            return copy.deepcopy(value, memo)

    models.copy = _NoTableCopies()  # type: ignore[attr-defined,assignment]
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups: list[tuple[str, dict[str, Any], Any]] = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Key")
            if key is None and "Item" in op:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            if key is None:
                continue
            with contextlib.suppress(Exception):  # a malformed key fails in moto's own checks
                current = self.get_item(op["TableName"], key)
                backups.append(
                    (
                        op["TableName"],
                        key,
                        copy.deepcopy(current.to_json()["Attributes"]) if current else None,
                    )
                )
        try:
            original(self, transact_items)
        except (TransactionCanceledException, MultipleTransactionsException, MockValidationException):
            for table_name, key, attributes in reversed(backups):
                if attributes is None:
                    with contextlib.suppress(Exception):
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise
        finally:
            _forget_tracked_instances()

    transact_write_items.__wrapped__ = original  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


LambdaCallable = Callable[[Any], Any]
_lambda_targets: dict[str, LambdaCallable] = {}


def register_lambda(function_name: str, target: LambdaCallable) -> None:
    """Invocations of ``function_name`` (by Step Functions or boto3) call ``target(event)``."""
    _lambda_targets[function_name] = target


def install_lambda_hook() -> None:
    from moto.awslambda.models import LambdaFunction

    if hasattr(LambdaFunction._invoke_lambda, "__wrapped__"):
        return
    original = LambdaFunction._invoke_lambda

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
        target = _lambda_targets.get(self.function_name)
        if target is None:
            result: tuple[str, bool, str] = original(self, event)
            return result
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        try:
            output = target(event)
        except Exception as err:  # noqa: BLE001 - reported to the caller as a Lambda function error
            payload = {"errorType": type(err).__name__, "errorMessage": str(err)}
            return json.dumps(payload), True, ""
        finally:
            _prune_threads()
        return json.dumps(output, default=str), False, ""

    invoke.__wrapped__ = original  # type: ignore[attr-defined]
    LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign]


def _prune_threads() -> None:
    """moto's state machine executor keeps every thread it started in a global list."""
    from moto.stepfunctions.parser import utils

    threads = getattr(utils, "TMP_THREADS", None)
    if isinstance(threads, list) and len(threads) > 256:
        threads[:] = [th for th in threads if th.is_alive()]


def create_lambda_functions(names: list[str]) -> None:
    """Functions moto must know so Step Functions can invoke them (the code runs via the hook)."""
    import io
    import zipfile

    iam = boto3.client("iam", region_name=REGION)
    role = "orchestration-local-lambda"
    try:
        role_arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "app.py", "def lambda_handler(event, context):\n    raise RuntimeError('runs in-process')\n"
        )
    client = boto3.client("lambda", region_name=REGION)
    existing = {
        f["FunctionName"]
        for page in client.get_paginator("list_functions").paginate()
        for f in page["Functions"]
    }
    for name in names:
        if name not in existing:
            client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role_arn,
                Handler="app.lambda_handler",
                Code={"ZipFile": buffer.getvalue()},
            )


def hooks_installed() -> bool:
    from moto.awslambda.models import LambdaFunction
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    hooked = (DynamoHandler.call_action, LambdaFunction._invoke_lambda, DynamoDBBackend.transact_write_items)
    return all(hasattr(fn, "__wrapped__") for fn in hooked)


def start_moto() -> Any:
    """Start moto for the whole process (state machines really execute)."""
    from moto import mock_aws

    set_local_environment()
    install_hooks()
    install_lambda_hook()
    # moto logs every failed state with a dump of the whole parsed machine; the execution
    # record already says what failed.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
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
        self._save_lock = threading.Lock()

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
        """Write every table to ``<name>.jsonl`` atomically (one save at a time)."""
        with self._save_lock:
            _dirty.clear()
            self.directory.mkdir(parents=True, exist_ok=True)
            for name in self.table_names:
                tmp = self.directory / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
                with tmp.open("w") as out:
                    for page in self.client.get_paginator("scan").paginate(TableName=name):
                        for item in page["Items"]:
                            out.write(json.dumps(item, separators=(",", ":")) + "\n")
                tmp.replace(self.directory / f"{name}.jsonl")

    def start(self, interval: float = 1.0) -> None:
        def loop() -> None:
            pause = interval
            while not self._stop.wait(pause):
                if _dirty.is_set():
                    began = time.monotonic()
                    self.save()
                    # A large table takes a while to write: keep saving at most ~20% of the time.
                    pause = max(interval, 4 * (time.monotonic() - began))

        self._thread = threading.Thread(target=loop, name="snapshots", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()  # a save in progress finishes first; then the final one
        self.save()
