"""moto, in-process: start it, make it safe under threads, create the tables, keep the data.

This is the only module that replaces moto internals, and ``HOOKS`` below lists every one it
replaces (moto is pinned to a minor range in pyproject.toml; tests/integration/test_moto_hooks.py
checks each entry, and ``hooks_installed()`` checks them all at run time). ``RELIED_ON`` lists
the moto internals it reads or calls without replacing them. Nothing else in the repository
patches moto: code that wants to see DynamoDB requests (the benchmarks) uses
``add_dynamodb_observer``.

How the journal reaches into moto: inside the lock, the wrapper of ``DynamoHandler.call_action``
reads the request (``self.body``), the table's key schema (``DynamoDBBackend.get_table``,
``Table.hash_key_attr``/``range_key_attr``), the before- and after-images of every item it
touches (``DynamoHandler.dynamodb_backend``, ``DynamoDBBackend.get_item`` and
``Item.to_json()["Attributes"]``), and appends one record. If the record cannot be written, the
before-images are put back (``DynamoDBBackend.put_item``/``delete_item``) and the call answers
``PersistenceUnavailable`` (a 400 botocore does not retry; the core answers 503). At start, the
last snapshot and the journal after it are written straight into moto's backend
(``dynamodb_backends[DEFAULT_ACCOUNT_ID][region]``, ``put_item``/``delete_item``): no boto3
call per item.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import boto3

from orchestration_local import durability

REGION = "us-east-1"
WRITE_ACTIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})

_dynamodb_lock = threading.RLock()
_installed = False
log = logging.getLogger("orchestration.store")


@dataclass(frozen=True)
class Hook:
    """One moto internal: ``target`` is ``"module:attribute.path"``."""

    target: str
    why: str

    @property
    def module(self) -> str:
        return self.target.split(":", 1)[0]

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.target.split(":", 1)[1].split("."))


# Every moto internal this module replaces (each replacement keeps the original as __wrapped__).
HOOKS: tuple[Hook, ...] = (
    Hook(
        "moto.dynamodb.responses:DynamoHandler.call_action",
        "one lock for every DynamoDB request (a conditional write is atomic with respect to other "
        "threads, as in DynamoDB); every write is journaled before it is answered; observers "
        "(add_dynamodb_observer) hear of each request; a held GET is told of writes to its "
        "partition (partition_writes)",
    ),
    Hook(
        "moto.dynamodb.responses:DynamoHandler.serialized",
        "data-plane answers (GetItem, Query, BatchGetItem, writes...) are a json.dumps of moto's "
        "result, not its walk of botocore's output shapes (~20 ms per returned item)",
    ),
    Hook(
        "moto.dynamodb.models:copy",
        "the models module's `copy`: its deepcopy hands a Table back uncopied (moto deep-copied every "
        "table a transaction touched: 2 s and ~26 MB per write with 5,000 items stored)",
    ),
    Hook(
        "moto.dynamodb.models:DynamoDBBackend.transact_write_items",
        "backs up only the items a transaction touches and puts them back if it is cancelled; "
        "every 500 transactions empties moto's registry of model instances (reset_model_data)",
    ),
    Hook(
        "moto.dynamodb.models.table:Table.query",
        "a Query reads only the items of its partition (of the table, or of an index by its hash "
        "key), not all_items(), which sorts every item of the table on each call",
    ),
    Hook(
        "moto.awslambda.models:LambdaFunction._invoke_lambda",
        "Lambda invocations (Step Functions' Task states, boto3) call the in-process callable "
        "registered for the function (moto would need Docker); prunes moto's TMP_THREADS",
    ),
    Hook(
        "moto.stepfunctions.parser.asl.parse.asl_parser:AmazonStateLanguageParser.parse",
        "memoised by definition text: 0.5-0.75 s per start of a 50-task machine's 64 KiB definition",
    ),
    Hook(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils:boto_client_for",
        "one boto3 client per (region, service) for every Lambda Task (moto built one per invoke)",
    ),
)

# moto internals read or called here without being replaced.
RELIED_ON: tuple[Hook, ...] = (
    Hook(
        "moto.dynamodb.responses:DynamoHandler._get_action", "the action of a request (journal, serializer)"
    ),
    Hook("moto.dynamodb.responses:DynamoHandler.dynamodb_backend", "the backend a request writes"),
    Hook("moto.dynamodb.responses:DynamoResult", "the result type the serializer dumps"),
    Hook("moto.dynamodb.models:dynamodb_backends", "start-up replay writes straight into the backend"),
    Hook("moto.dynamodb.models.table:Table.all_items", "shadowed per call by the partition query"),
    Hook("moto.core.models:DEFAULT_ACCOUNT_ID", "the account of the backend"),
    Hook("moto.core.model_instances:reset_model_data", "empties moto's registry of model instances"),
    Hook("moto.core.utils:get_service_model", "the output shapes the serializer keeps to"),
    Hook("moto.stepfunctions.parser.utils:TMP_THREADS", "moto's list of every thread it started: pruned"),
)


def _walk(module: str, path: tuple[str, ...], target: str, why: str) -> Any:
    import importlib

    try:
        value: Any = importlib.import_module(module)
        for name in path:
            value = getattr(value, name)
    except (ImportError, AttributeError) as err:
        raise RuntimeError(
            f"moto internal {target} is gone ({err}); the embedded runtime relies on it ({why}): "
            "adapt orchestration_local/aws.py to this moto version"
        ) from err
    return value


def resolve(hook: Hook) -> Any:
    """The object ``hook.target`` names now; if moto moved or renamed it, raises naming it."""
    return _walk(hook.module, hook.path, hook.target, hook.why)


_replaced: dict[str, Any] = {}  # target -> the replacement installed


def _replace(target: str, make: Callable[[Any], Any]) -> None:
    """Replace the moto internal ``target`` (an entry of HOOKS) by ``make(original)``, once;
    the replacement keeps the original as ``__wrapped__``."""
    if target in _replaced:
        return
    hook = next(h for h in HOOKS if h.target == target)
    original = resolve(hook)
    replacement = make(original)
    if getattr(replacement, "__wrapped__", None) is not original:
        replacement.__wrapped__ = original
    owner = _walk(hook.module, hook.path[:-1], hook.target, hook.why)
    if isinstance(owner, type) and isinstance(owner.__dict__.get(hook.path[-1]), staticmethod):
        setattr(owner, hook.path[-1], staticmethod(replacement))
    else:
        setattr(owner, hook.path[-1], replacement)
    _replaced[target] = replacement


def hooks_installed() -> bool:
    """Every entry of HOOKS is replaced by this module's own replacement (not another patch)."""
    return all(h.target in _replaced and resolve(h) is _replaced[h.target] for h in HOOKS)


# -- observers of DynamoDB requests ------------------------------------------------------------
DynamoDBObserver = Callable[[str, float], None]
_observers: tuple[DynamoDBObserver, ...] = ()
_observers_lock = threading.Lock()


def add_dynamodb_observer(callback: Callable[[str, float], None]) -> Callable[[], None]:
    """Call ``callback(action, seconds)`` after every DynamoDB request moto handles in this
    process (in the thread that made it, outside the lock; seconds include waiting for the lock
    and journaling). Returns the function that removes it."""
    global _observers
    with _observers_lock:
        _observers = (*_observers, callback)

    def remove() -> None:
        global _observers
        with _observers_lock:
            remaining = list(_observers)
            if callback in remaining:
                remaining.remove(callback)
            _observers = tuple(remaining)

    return remove


def _notify(action: str, seconds: float) -> None:
    for observer in _observers:
        try:
            observer(action, seconds)
        except Exception:  # an observer's bug must not fail the request it observed
            log.exception("a DynamoDB observer failed on %s", action)


def set_local_environment() -> None:
    """Credentials and region for moto (never real ones: nothing here may reach AWS)."""
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"  # noqa: S105 - moto's dummy credentials
    os.environ["AWS_SESSION_TOKEN"] = "testing"  # noqa: S105
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION
    os.environ.pop("AWS_PROFILE", None)


def install_hooks() -> None:
    """Serialise moto's DynamoDB and journal its writes (when a store is attached). Idempotent."""
    global _installed
    if _installed:
        return
    _replace("moto.dynamodb.responses:DynamoHandler.call_action", _make_call_action)
    _install_transaction_hook()
    _install_partition_query_hook()
    _install_serializer_hook()
    _install_step_functions_hooks()
    _installed = True


def _make_call_action(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def call_action(self: Any) -> Any:
        started = time.perf_counter()
        store = _store
        action = self._get_action()
        try:
            request = self.body  # moto replaces it with its parsed form
            if store is None or action not in WRITE_ACTIONS:
                with _dynamodb_lock:
                    result = original(self)
            else:
                result = _journaled_call(self, original, store, action)
            # Looked at after the write: whoever subscribed before it is told; a later
            # subscriber reads what it wrote.
            if _partition_waiters and action in WRITE_ACTIONS and result[0] == 200:
                _tell_partition_waiters(_partitions_written(self, action, request))
            return result
        finally:
            if _observers:
                _notify(action, time.perf_counter() - started)

    return call_action


# -- who waits for a write to a partition (a held GET /executions/{id}) -------------------------
_partition_waiters: dict[str, set[threading.Event]] = {}
_partition_waiters_lock = threading.Lock()


@contextlib.contextmanager
def partition_writes(partition: str) -> Iterator[threading.Event]:
    """An event that every write to ``partition`` (an item's hash key, a string) sets, from now
    until the block ends (the caller clears it when it has looked)."""
    event = threading.Event()
    with _partition_waiters_lock:
        _partition_waiters.setdefault(partition, set()).add(event)
    try:
        yield event
    finally:
        with _partition_waiters_lock:
            waiting = _partition_waiters.get(partition, set())
            waiting.discard(event)
            if not waiting:
                _partition_waiters.pop(partition, None)


def _partitions_written(handler: Any, action: str, body: Any) -> set[str]:
    """The partitions (hash keys, as strings) a write request (``body``, as it came) may change."""
    try:
        backend = handler.dynamodb_backend
        request = json.loads(body) if isinstance(body, str | bytes) else body
        partitions = set()
        for table, key in _touched(backend, action, request):
            value = key.get(backend.get_table(table).hash_key_attr)
            if isinstance(value, dict) and len(value) == 1:
                partitions.add(str(next(iter(value.values()))))
    except Exception:  # noqa: BLE001 - malformed: moto refuses it, and nothing is written
        return set()
    return partitions


def _tell_partition_waiters(partitions: set[str]) -> None:
    """After a write moto accepted: set the events of those waiting for a partition it wrote."""
    with _partition_waiters_lock:
        events = [event for partition in partitions for event in _partition_waiters.get(partition, ())]
    for event in events:
        event.set()


# -- the journal --------------------------------------------------------------------------------
_store: durability.Store | None = None
PERSISTENCE_ERROR = "PersistenceUnavailable"


def attach_store(store: durability.Store | None) -> None:
    """Journal every DynamoDB write of this process to ``store`` (None: keep nothing)."""
    global _store
    _store = store


def _error_response(code: str, message: str) -> tuple[int, dict[str, str], str]:
    """An error botocore does not retry (a 4xx with a code of its own): the core maps it to 503."""
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    return 400, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code}, body


def _backend() -> Any:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]


def _key_of(backend: Any, table: str, item: dict[str, Any]) -> dict[str, Any]:
    schema = backend.get_table(table)
    key = {schema.hash_key_attr: item[schema.hash_key_attr]}
    if schema.range_key_attr is not None:
        key[schema.range_key_attr] = item[schema.range_key_attr]
    return key


def _touched(backend: Any, action: str, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, key) of every item a write request may change (ConditionChecks change nothing)."""
    pairs: list[tuple[str, dict[str, Any]]] = []
    if action == "PutItem":
        pairs.append((request["TableName"], _key_of(backend, request["TableName"], request["Item"])))
    elif action in {"UpdateItem", "DeleteItem"}:
        pairs.append((request["TableName"], request["Key"]))
    elif action == "BatchWriteItem":
        for table, writes in request["RequestItems"].items():
            for write in writes:
                if "PutRequest" in write:
                    pairs.append((table, _key_of(backend, table, write["PutRequest"]["Item"])))
                else:
                    pairs.append((table, write["DeleteRequest"]["Key"]))
    elif action == "TransactWriteItems":
        for entry in request["TransactItems"]:
            ((kind, op),) = entry.items()
            if kind == "Put":
                pairs.append((op["TableName"], _key_of(backend, op["TableName"], op["Item"])))
            elif kind in {"Update", "Delete"}:
                pairs.append((op["TableName"], op["Key"]))
    unique: dict[str, tuple[str, dict[str, Any]]] = {}
    for table, key in pairs:
        unique.setdefault(table + "\0" + durability.canonical(key), (table, key))
    return list(unique.values())


def _image(backend: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    item = backend.get_item(table, key)
    return None if item is None else item.to_json()["Attributes"]


def _restore(backend: Any, images: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> None:
    for table, key, item in images:
        if item is None:
            backend.delete_item(table, key)
        else:
            backend.put_item(table, item)


def _journaled_call(
    handler: Any, original: Callable[[Any], Any], store: durability.Store, action: str
) -> Any:
    with _dynamodb_lock:
        if not store.writable():
            return _error_response(PERSISTENCE_ERROR, f"The store cannot keep writes: {store.failure}")
        backend = handler.dynamodb_backend
        try:
            touched = [
                (table, key)
                for table, key in _touched(backend, action, json.loads(handler.body))
                if table in backend.tables
            ]
            before = [(table, key, _image(backend, table, key)) for table, key in touched]
        except Exception:  # noqa: BLE001 - a malformed request: moto answers it, nothing is written
            result = original(handler)
            if result[0] == 200:  # never: a write it accepted would not be journaled
                log.error("a %s was applied but its keys could not be read; not journaled", action)
            return result
        result = original(handler)
        if result[0] != 200 or not touched:
            return result
        after = [(table, key, _image(backend, table, key)) for table, key in touched]
        try:
            seq = store.commit(after)
        except durability.PersistenceUnavailable as err:
            _restore(backend, before)  # memory stays what is on disk
            return _error_response(PERSISTENCE_ERROR, f"The store cannot keep writes: {err}")
    if not store.wait_durable(seq):
        return _error_response(PERSISTENCE_ERROR, f"The store cannot keep writes: {store.failure}")
    return result


def _apply(table: str, key: dict[str, Any], item: dict[str, Any] | None) -> None:
    """Write one item straight into moto's backend (start-up replay: no boto3 per item)."""
    backend = _backend()
    if table not in backend.tables:
        return
    if item is None:
        backend.delete_item(table, key)
    else:
        backend.put_item(table, item)


def open_store(directory: Path) -> tuple[durability.Store, durability.LoadReport]:
    """Load ``directory`` into moto (last snapshot + journal) and journal every write from now on."""
    backend = _backend()
    store = durability.Store(
        directory,
        _dynamodb_lock,
        _apply,
        lambda table, item: _key_of(backend, table, item),
    )
    report = store.open()
    attach_store(store)
    store.start()
    return store, report


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

        __wrapped__ = copy

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, models.Table):  # type: ignore[attr-defined]
                return value
            return copy.deepcopy(value, memo)

    _replace("moto.dynamodb.models:copy", lambda original: _NoTableCopies())

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
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

        return transact_write_items

    _replace("moto.dynamodb.models:DynamoDBBackend.transact_write_items", make)


LambdaCallable = Callable[[Any], Any]
_lambda_targets: dict[str, LambdaCallable] = {}


def register_lambda(function_name: str, target: LambdaCallable) -> None:
    """Invocations of ``function_name`` (by Step Functions or boto3) call ``target(event)``."""
    _lambda_targets[function_name] = target


def install_lambda_hook() -> None:
    _replace("moto.awslambda.models:LambdaFunction._invoke_lambda", _make_invoke)


def _make_invoke(original: Callable[..., Any]) -> Callable[..., Any]:
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

    return invoke


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


def _install_partition_query_hook() -> None:
    _replace("moto.dynamodb.models.table:Table.query", _make_partition_query)


def _make_partition_query(original: Callable[..., Any]) -> Callable[..., Any]:
    index_position = 7  # query(hash_key, range_comparison, ..., projection_expressions, index_name, ...)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[index_position] if len(args) > index_position else kwargs.get("index_name")
        hash_key = args[0] if args else kwargs.get("hash_key")
        if index_name is not None:
            members = _index_partition(self, kwargs.get("hash_key_conditions"))
        elif hash_key is not None and self.range_key_attr:
            partition = self.items.get(hash_key)
            members = list(partition.values()) if partition else []
        else:
            members = None
        if members is None:
            return original(self, *args, **kwargs)
        # Every DynamoDB call runs under _dynamodb_lock, so this instance attribute is seen by
        # this call alone; moto's query then filters and sorts the partition as it would have.
        self.all_items = lambda: members
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    return query


def _index_partition(table: Any, conditions: list[tuple[str, Any]] | None) -> list[Any] | None:
    """The items whose index hash key attributes equal the Query's, found by comparing the raw
    values; moto compares each item of the table through DynamoType casts after sorting them all.
    None (moto's own path) when the Query names no hash key condition."""
    if not conditions:
        return None
    wanted = [(name, value.type, value.value) for name, value in conditions]
    members = []
    for partition in table.items.values():
        for item in partition.values() if table.range_key_attr else (partition,):
            attrs = item.attrs
            for name, kind, raw in wanted:
                found = attrs.get(name)
                if found is None or found.type != kind or found.value != raw:
                    break
            else:
                members.append(item)
    return members


# Data-plane answers: items, keys, counts and capacity only (plain JSON, bytes as base64).
_FAST_SERIALIZED = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _install_serializer_hook() -> None:
    """Answer DynamoDB's data-plane calls with ``json.dumps`` of moto's result.

    moto serialises every answer by walking botocore's output shapes member by member: measured
    at 2.2 s for one 100-item BatchGetItem and most of a dispatcher tick's time. For these
    operations the shape is JSON all the way down, with binary attribute values as base64, so
    the plain dump is the same document (the test in test_moto_hooks compares the two).
    """
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoResult

    model = get_service_model("dynamodb")
    # moto's results carry a few keys of their own (e.g. DeleteItem's ConsumedCapacityUnits)
    # that its serializer drops as not in the output shape: keep the shape's members only.
    members = {action: set(model.operation_model(action).output_shape.members) for action in _FAST_SERIALIZED}

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def serialized(self: Any, action_result: Any) -> Any:
            action = self._get_action()
            if type(action_result) is not DynamoResult or action not in members:
                return original(self, action_result)
            wanted = members[action]
            raw = cast("dict[str, Any]", action_result.result)  # a dict for every data-plane action
            result = {k: v for k, v in raw.items() if k in wanted}
            body = json.dumps(_without_none(result), default=_json_default)
            headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers, "status": 200}
            return 200, headers, body

        return serialized

    _replace("moto.dynamodb.responses:DynamoHandler.serialized", make)


def _install_step_functions_hooks() -> None:
    import functools

    # A parse error is raised, never cached.
    _replace(
        "moto.stepfunctions.parser.asl.parse.asl_parser:AmazonStateLanguageParser.parse",
        functools.lru_cache(maxsize=64),
    )
    _replace(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils:boto_client_for",
        _make_shared_client,
    )


def _make_shared_client(client_for: Callable[..., Any]) -> Callable[..., Any]:
    clients: dict[tuple[str, str], Any] = {}
    clients_lock = threading.Lock()

    def shared_client(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's client ignores the state's credentials (fixed dummy keys): one per service.
        with clients_lock:
            if (region, service) not in clients:
                clients[(region, service)] = client_for(
                    region=region, service=service, state_credentials=state_credentials
                )
            return clients[(region, service)]

    return shared_client


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
