"""The embedded runtime reaches into moto internals (orchestration_local/aws.py). If a moto
upgrade moves them, these tests fail loudly instead of the runtime silently misbehaving."""

from __future__ import annotations

import contextlib
import errno
import inspect
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from orchestration_local import aws, durability
from orchestration_local.runtime import Runtime
from tests.integration.conftest import Api, gate, wait_for


def test_hooks_are_installed(runtime: Runtime) -> None:
    assert aws.hooks_installed()


# -- every replaced moto internal: there before the hooks, wrapped after, by aws.py alone ---------
_BEFORE_AND_AFTER = """
import json, sys
from orchestration_local import aws

def describe(value):
    owner = getattr(value, "__module__", None) or getattr(value, "__name__", None)
    return {"id": id(value), "wrapped": id(getattr(value, "__wrapped__", None)), "module": owner}

out = {"before": {}, "after": {}, "errors": {}}
for hook in aws.HOOKS:
    try:
        out["before"][hook.target] = describe(aws.resolve(hook))
    except RuntimeError as err:
        out["errors"][hook.target] = str(err)
originals = {h.target: aws.resolve(h) for h in aws.HOOKS if h.target not in out["errors"]}
if not out["errors"]:
    aws.install_hooks()
    aws.install_lambda_hook()
    for hook in aws.HOOKS:
        out["after"][hook.target] = describe(aws.resolve(hook))
    out["installed"] = aws.hooks_installed()
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def before_and_after() -> dict[str, Any]:
    """Each hooked attribute in a fresh process, before and after the hooks are installed."""
    done = subprocess.run(
        [sys.executable, "-c", _BEFORE_AND_AFTER], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("hook", aws.HOOKS, ids=lambda hook: hook.target.split(":")[1])
def test_each_replaced_moto_internal_is_there_and_wrapped_by_the_hook(
    hook: aws.Hook, before_and_after: dict[str, Any], runtime: Runtime
) -> None:
    target = hook.target
    assert target not in before_and_after["errors"], before_and_after["errors"].get(target)
    before, after = before_and_after["before"][target], before_and_after["after"][target]
    module = str(before["module"])
    assert module == "copy" or module.startswith("moto."), f"{target} is not moto's own: {before}"
    assert after["id"] != before["id"], f"{target} was not replaced by install_hooks"
    assert after["wrapped"] == before["id"], f"{target}.__wrapped__ is not moto's original"
    assert before_and_after["installed"]
    # In this process (the runtime's), it is aws.py's replacement that is in place, no other patch.
    assert aws.resolve(hook) is aws._replaced[target], f"{target} was replaced again outside aws.py"


def test_the_registry_names_every_internal_it_replaces_once() -> None:
    targets = [hook.target for hook in aws.HOOKS]
    assert len(targets) == len(set(targets))
    assert all(hook.why for hook in (*aws.HOOKS, *aws.RELIED_ON))


@pytest.mark.parametrize("hook", aws.RELIED_ON, ids=lambda hook: hook.target.split(":")[1])
def test_each_moto_internal_relied_on_is_there(hook: aws.Hook) -> None:
    aws.resolve(hook)  # raises naming the attribute if moto moved or renamed it


def test_a_missing_moto_internal_is_named_in_the_error() -> None:
    ghost = aws.Hook("moto.dynamodb.responses:DynamoHandler.no_such_thing", "a probe")
    with pytest.raises(RuntimeError, match=r"moto\.dynamodb\.responses:DynamoHandler\.no_such_thing"):
        aws.resolve(ghost)


def test_moto_still_backs_up_tables_with_the_copy_the_hook_replaces(runtime: Runtime) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    moto_own = DynamoDBBackend.transact_write_items.__wrapped__  # type: ignore[attr-defined]
    assert "copy.deepcopy(" in inspect.getsource(moto_own), (
        "moto.dynamodb.models.DynamoDBBackend.transact_write_items no longer deep-copies with the "
        "module's `copy`: the hook on moto.dynamodb.models.copy does nothing now"
    )


def test_observers_hear_every_dynamodb_request_until_removed(runtime: Runtime) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = runtime.names["Table"]
    key = {"PK": {"S": "hook#observed"}, "SK": {"S": "x"}}
    me = threading.get_ident()
    first: list[tuple[str, float]] = []
    second: list[tuple[str, float]] = []

    def hear(into: list[tuple[str, float]]) -> Any:
        def observer(action: str, seconds: float) -> None:
            if threading.get_ident() == me:  # the runtime's own threads may make requests too
                into.append((action, seconds))

        return observer

    remove_first = aws.add_dynamodb_observer(hear(first))
    remove_second = aws.add_dynamodb_observer(hear(second))
    try:
        client.put_item(TableName=table, Item=key)
        client.get_item(TableName=table, Key=key)
        remove_second()
        client.query(
            TableName=table,
            KeyConditionExpression="PK = :p",
            ExpressionAttributeValues={":p": {"S": "hook#observed"}},
        )
    finally:
        remove_first()
        remove_second()  # removing twice is harmless
    client.delete_item(TableName=table, Key=key)
    assert [action for action, _ in first] == ["PutItem", "GetItem", "Query"]
    assert [action for action, _ in second] == ["PutItem", "GetItem"]
    assert all(isinstance(seconds, float) and seconds >= 0 for _, seconds in first + second)


def test_an_observer_that_fails_does_not_fail_the_request(runtime: Runtime) -> None:
    def broken(action: str, seconds: float) -> None:
        raise ValueError("observer bug")

    remove = aws.add_dynamodb_observer(broken)
    try:
        client = boto3.client("dynamodb", region_name="us-east-1")
        got = client.get_item(TableName=runtime.names["Table"], Key={"PK": {"S": "none"}, "SK": {"S": "x"}})
    finally:
        remove()
    assert "Item" not in got


def test_lambda_invocations_reach_the_in_process_callable(runtime: Runtime) -> None:
    aws.register_lambda("hook-probe", lambda event: {"echo": event})
    aws.create_lambda_functions(["hook-probe"])
    client = boto3.client("lambda", region_name="us-east-1")
    out = client.invoke(FunctionName="hook-probe", Payload=json.dumps({"x": 1}))
    assert json.loads(out["Payload"].read()) == {"echo": {"x": 1}}
    assert "FunctionError" not in out


def test_lambda_errors_carry_the_exception_class_as_error_type(runtime: Runtime) -> None:
    class BadThing(Exception):
        pass

    def fail(_event: object) -> None:
        raise BadThing("nope")

    aws.register_lambda("hook-probe-fail", fail)
    aws.create_lambda_functions(["hook-probe-fail"])
    out = boto3.client("lambda", region_name="us-east-1").invoke(
        FunctionName="hook-probe-fail", Payload=b"{}"
    )
    assert out["FunctionError"] == "Handled"
    assert json.loads(out["Payload"].read()) == {"errorType": "BadThing", "errorMessage": "nope"}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(runtime: Runtime) -> None:
    # The transaction hook backs up only the touched items; a cancelled transaction restores them.
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = runtime.names["Table"]
    key_a = {"PK": {"S": "hook#a"}, "SK": {"S": "x"}}
    client.put_item(TableName=table, Item={**key_a, "n": {"N": "1"}})
    ops = [
        {
            "Update": {
                "TableName": table,
                "Key": key_a,
                "UpdateExpression": "SET n = :two",
                "ExpressionAttributeValues": {":two": {"N": "2"}},
            }
        },
        {"Put": {"TableName": table, "Item": {"PK": {"S": "hook#b"}, "SK": {"S": "x"}}}},
        {
            "Put": {
                "TableName": table,
                "Item": {**key_a, "PK": {"S": "hook#c"}},
                "ConditionExpression": "attribute_exists(PK)",
            }
        },
    ]
    try:
        client.transact_write_items(TransactItems=ops)
        raise AssertionError("the condition should have cancelled the transaction")
    except client.exceptions.TransactionCanceledException:
        pass
    assert client.get_item(TableName=table, Key=key_a)["Item"]["n"] == {"N": "1"}
    assert "Item" not in client.get_item(TableName=table, Key={"PK": {"S": "hook#b"}, "SK": {"S": "x"}})


# -- the journal's reach into moto: request body, key schema, before/after images, backend writes ----
@pytest.fixture
def journal(runtime: Runtime, tmp_path: Path) -> Iterator[durability.Store]:
    """A store attached to this (otherwise unpersisted) runtime for one test."""
    backend = aws._backend()
    store = durability.Store(
        tmp_path / "dynamodb",
        aws._dynamodb_lock,
        aws._apply,
        lambda table, item: aws._key_of(backend, table, item),
        recover_interval=0.0,
    )
    store.open()
    aws.attach_store(store)
    try:
        yield store
    finally:
        aws.attach_store(None)
        assert store.fd is not None
        os.close(store.fd)


def _records(store: durability.Store) -> list[dict[str, Any]]:
    path = store.directory / durability.segment_name(store.segment_start)
    records: list[dict[str, Any]] = durability.parse(path.read_bytes()).values
    return records


def test_the_backend_the_journal_reads_is_the_one_requests_write(runtime: Runtime) -> None:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.responses import DynamoHandler

    assert isinstance(DynamoHandler.__dict__["dynamodb_backend"], property)
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = runtime.names["Table"]
    key = {"PK": {"S": "hook#backend"}, "SK": {"S": "x"}}
    client.put_item(TableName=table, Item={**key, "GSI1PK": {"S": "hook#p"}, "GSI1SK": {"S": "1"}})
    backend = aws._backend()
    schema = backend.get_table(table)
    assert (schema.hash_key_attr, schema.range_key_attr) == ("PK", "SK")
    stored = backend.get_item(table, key)
    assert isinstance(stored, Item)
    assert stored.to_json()["Attributes"]["GSI1PK"] == {"S": "hook#p"}
    # Replay writes straight into the backend; queries (indexes included) must see them.
    backend.put_item(
        table,
        {"PK": {"S": "hook#replayed"}, "SK": {"S": "x"}, "GSI1PK": {"S": "hook#p"}, "GSI1SK": {"S": "2"}},
    )
    page = client.query(
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :p",
        ExpressionAttributeValues={":p": {"S": "hook#p"}},
    )
    assert {i["PK"]["S"] for i in page["Items"]} == {"hook#backend", "hook#replayed"}
    backend.delete_item(table, {"PK": {"S": "hook#replayed"}, "SK": {"S": "x"}})
    assert "Item" not in client.get_item(
        TableName=table, Key={"PK": {"S": "hook#replayed"}, "SK": {"S": "x"}}
    )


def test_every_write_action_is_journaled_with_the_after_images_it_left(
    runtime: Runtime, journal: durability.Store
) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = runtime.names["Table"]

    def k(name: str) -> dict[str, Any]:
        return {"PK": {"S": f"hook#j{name}"}, "SK": {"S": "x"}}

    client.put_item(TableName=table, Item={**k("a"), "n": {"N": "1"}})
    client.update_item(
        TableName=table,
        Key=k("a"),
        UpdateExpression="SET n = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    client.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": k("b")}}, {"DeleteRequest": {"Key": k("a")}}]}
    )
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {**k("c"), "n": {"N": "3"}}}},
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": k("z"),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {"Delete": {"TableName": table, "Key": k("b")}},
        ]
    )
    with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
        client.delete_item(TableName=table, Key=k("c"), ConditionExpression="attribute_not_exists(PK)")
    ops = [[(op["k"]["PK"]["S"], op["i"]) for op in r["ops"]] for r in _records(journal)]
    assert ops == [
        [("hook#ja", {**k("a"), "n": {"N": "1"}})],
        [("hook#ja", {**k("a"), "n": {"N": "2"}})],
        [("hook#jb", k("b")), ("hook#ja", None)],
        [("hook#jc", {**k("c"), "n": {"N": "3"}}), ("hook#jb", None)],  # the check touched nothing
    ]  # the failed conditional delete wrote nothing, so it has no record
    assert journal.synced_seq == journal.written_seq == 4


class _FullDisk:
    def write(self, fd: int, data: bytes | memoryview, /) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def fsync(self, fd: int, /) -> None:
        os.fsync(fd)


def test_a_write_the_journal_cannot_keep_is_undone_and_answered_once_as_unavailable(
    runtime: Runtime, journal: durability.Store
) -> None:
    from orchestration_core.shared.errors import StoreUnavailable
    from orchestration_core.shared.http import transient_problem
    from orchestration_core.shared.table import Table

    client = boto3.client("dynamodb", region_name="us-east-1")
    table = runtime.names["Table"]
    key = {"PK": {"S": "hook#full"}, "SK": {"S": "x"}}
    client.put_item(TableName=table, Item={**key, "n": {"N": "1"}})
    sent: list[str] = []
    client.meta.events.register("before-send.dynamodb.*", lambda **kw: sent.append(kw["request"].url))
    journal.io = _FullDisk()
    ops: list[Any] = [
        {
            "Update": {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET n = :v",
                "ExpressionAttributeValues": {":v": {"N": "2"}},
            }
        },
        {"Put": {"TableName": table, "Item": {"PK": {"S": "hook#full-new"}, "SK": {"S": "x"}}}},
    ]
    with pytest.raises(ClientError) as caught:
        client.transact_write_items(TransactItems=ops)
    assert caught.value.response["Error"]["Code"] == aws.PERSISTENCE_ERROR
    assert len(sent) == 1  # botocore did not retry it
    assert client.get_item(TableName=table, Key=key)["Item"]["n"] == {"N": "1"}  # before-image back
    assert "Item" not in client.get_item(
        TableName=table, Key={"PK": {"S": "hook#full-new"}, "SK": {"S": "x"}}
    )
    with pytest.raises(StoreUnavailable) as refused:
        Table(client, table).transact([Table(client, table).put_op({"PK": "hook#core", "SK": "x"})] * 1)
    assert transient_problem(refused.value).status == 503  # what the API answers: 503 problem+json
    journal.io = os
    client.put_item(TableName=table, Item={**key, "n": {"N": "3"}})  # recovered on the next write
    assert journal.failure is None


def test_the_local_key_admin_answers_503_when_the_journal_cannot_keep_the_key(
    runtime: Runtime, journal: durability.Store
) -> None:
    from orchestration_local.gateway import HttpRequest
    from orchestration_local.server import ADMIN_HEADER, Server

    server = Server(("127.0.0.1", 0), runtime, quiet=True)
    try:
        headers = [(ADMIN_HEADER, server.admin_token), ("Content-Type", "application/json")]
        journal.io = _FullDisk()
        response = server.dispatch(HttpRequest("POST", "/_local/keys", "", headers, b'{"tenant": "full"}'))
        journal.io = os
        assert response.status == 503, response.body
        assert "cannot keep writes" in json.loads(response.body)["detail"]
        listed = server.dispatch(HttpRequest("GET", "/_local/keys", "tenant=full", headers))
        assert json.loads(listed.body) == {"keys": []}  # nothing half-made was kept
    finally:
        server.server_close()


def _pages_of(client: Any, attribute: str, **query: Any) -> list[list[str]]:
    """A Query read page by page: each page's values of the string ``attribute``."""
    pages, start = [], None
    while True:
        kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
        resp = client.query(**query, **kwargs)
        pages.append([i[attribute]["S"] for i in resp["Items"]])
        start = resp.get("LastEvaluatedKey")
        if not start:
            return pages


def test_a_table_query_reads_only_its_partition_and_pages_as_moto_does(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.table import Table

    # Given a partition of 5 items among others
    table = runtime.names["Table"]
    client = boto3.client("dynamodb", region_name="us-east-1")
    pk = f"HOOK#{os.urandom(6).hex()}"
    for sk in ["c", "a", "e", "b", "d"]:
        client.put_item(TableName=table, Item={"PK": {"S": pk}, "SK": {"S": sk}})
    client.put_item(TableName=table, Item={"PK": {"S": pk + "-other"}, "SK": {"S": "a"}})

    # When it is queried in pages, with moto's whole-table read made to fail
    def whole_table(self: Any) -> Any:
        raise AssertionError("a table query read the whole table")

    monkeypatch.setattr(Table, "all_items", whole_table)
    pages = _pages_of(
        client,
        "SK",
        TableName=table,
        KeyConditionExpression="PK = :pk AND SK > :after",
        ExpressionAttributeValues={":pk": {"S": pk}, ":after": {"S": "a"}},
        ScanIndexForward=False,
        Limit=2,
    )

    # Then only that partition was read, in order, condition and paging applied
    assert pages == [["e", "d"], ["c", "b"]] or pages == [["e", "d"], ["c", "b"], []]


def test_an_index_query_reads_only_its_partition_and_pages_as_moto_does(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.table import Table

    # Given an index partition of 5 items (in two table partitions) among others
    table = runtime.names["Table"]
    client = boto3.client("dynamodb", region_name="us-east-1")
    gsi_pk = f"HOOK-INDEX#{os.urandom(6).hex()}"
    for n, sk in enumerate(["c", "a", "e", "b", "d"]):
        keys = {"PK": {"S": f"{gsi_pk}-{n % 2}"}, "SK": {"S": sk}}
        client.put_item(TableName=table, Item={**keys, "GSI1PK": {"S": gsi_pk}, "GSI1SK": {"S": sk}})
    other = {"PK": {"S": gsi_pk}, "SK": {"S": "a"}, "GSI1PK": {"S": gsi_pk + "-other"}, "GSI1SK": {"S": "z"}}
    client.put_item(TableName=table, Item=other)
    client.put_item(TableName=table, Item={"PK": {"S": gsi_pk}, "SK": {"S": "no-index-key"}})

    def read_in_pages(**query: Any) -> list[list[str]]:
        return _pages_of(client, "GSI1SK", TableName=table, IndexName="GSI1", Limit=2, **query)

    query: dict[str, Any] = {
        "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK > :after",
        "ExpressionAttributeValues": {":pk": {"S": gsi_pk}, ":after": {"S": "a"}},
        "ScanIndexForward": False,
    }
    count = {**query, "Select": "COUNT"}
    count.pop("ScanIndexForward")
    hooked = Table.query
    monkeypatch.setattr(Table, "query", hooked.__wrapped__)  # moto's own Query, for reference
    by_moto = read_in_pages(**query)
    assert client.query(TableName=table, IndexName="GSI1", **count)["Count"] == 4

    # When it is queried through the hook with moto's whole-table read made to fail
    def whole_table(self: Any) -> Any:
        raise AssertionError("an index query read the whole table")

    monkeypatch.setattr(Table, "query", hooked)
    monkeypatch.setattr(Table, "all_items", whole_table)

    # Then the pages are moto's: only that index partition, in order, condition and paging applied
    assert read_in_pages(**query) == by_moto
    assert by_moto in ([["e", "d"], ["c", "b"]], [["e", "d"], ["c", "b"], []])
    assert client.query(TableName=table, IndexName="GSI1", **count)["Count"] == 4


def test_a_definition_is_parsed_once_and_a_lambda_client_serves_every_invoke(runtime: Runtime) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = json.dumps({"StartAt": "p", "States": {"p": {"Type": "Pass", "End": True}}})
    assert AmazonStateLanguageParser.parse(definition) is AmazonStateLanguageParser.parse(definition)
    client_for: Any = getattr(lambda_eval_utils, "boto_client_for")  # noqa: B009
    assert client_for(region="us-east-1", service="lambda") is client_for(
        region="us-east-1", service="lambda", state_credentials=object()
    )


def test_runs_of_one_machine_at_once_keep_their_own_data(api: Api) -> None:
    # Three executions of one workflow (one machine, one parsed program) held open together
    tasks = [
        {"name": "hold", "type": "gate"},
        {"name": "echo", "type": "transform", "config": {"expression": "parameters"}, "dependsOn": ["hold"]},
    ]
    status, _, wf = api.call("POST", "/workflows", {"name": "shared", "tasks": tasks})
    assert status == 201, wf
    keys = [os.urandom(6).hex() for _ in range(3)]
    ids = []
    for key in keys:
        status, _, started = api.call("POST", f"/workflows/{wf['id']}/execute", {"parameters": {"key": key}})
        assert status == 202, started
        ids.append(started["executionId"])
    for key in keys:
        gate(key).wait_entered()  # all three are inside the same machine at once
    for key in reversed(keys):
        gate(key).open("ok")
    for key, eid in zip(keys, ids, strict=True):
        done = wait_for(api, eid)
        assert done["status"] == "completed", done
        assert done["tasks"][1]["result"] == {"key": key}


def test_data_plane_answers_are_the_documents_motos_serializer_writes(runtime: Runtime) -> None:
    from moto.dynamodb.responses import DynamoHandler

    fast = DynamoHandler.serialized
    own = fast.__wrapped__  # type: ignore[attr-defined]
    compared: list[str] = []

    def both(self: Any, result: Any) -> Any:
        status, headers, body = fast(self, result)
        if fast is not own and self._get_action() in aws._FAST_SERIALIZED:
            o_status, o_headers, o_body = own(self, result)
            assert (status, json.loads(body)) == (o_status, json.loads(o_body)), self._get_action()
            assert headers["Content-Type"] == o_headers["Content-Type"]
            compared.append(self._get_action())
        return status, headers, body

    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="serializer-probe",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {
        "PK": {"S": "p"},
        "SK": {"S": "1"},
        "bin": {"B": b"\x00\xff"},
        "bins": {"BS": [b"1", b"2"]},
        "n": {"N": "1.5"},
        "ns": {"NS": ["1", "2"]},
        "ss": {"SS": ["a", "b"]},
        "doc": {"M": {"x": {"L": [{"S": "y"}, {"NULL": True}, {"BOOL": False}, {"N": "-3"}]}}},
    }
    key = {"PK": {"S": "p"}, "SK": {"S": "1"}}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DynamoHandler, "serialized", both)
        client.put_item(TableName="serializer-probe", Item=item, ReturnValues="ALL_OLD")
        client.put_item(TableName="serializer-probe", Item={**item, "SK": {"S": "2"}})
        assert client.get_item(TableName="serializer-probe", Key=key)["Item"] == item
        client.get_item(TableName="serializer-probe", Key={"PK": {"S": "none"}, "SK": {"S": "1"}})
        page = client.query(
            TableName="serializer-probe",
            KeyConditionExpression="PK = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            Limit=1,
        )
        assert page["Items"] == [item] and page["LastEvaluatedKey"] == key
        client.scan(TableName="serializer-probe", ProjectionExpression="PK, bin")
        client.update_item(
            TableName="serializer-probe",
            Key=key,
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "2"}},
            ReturnValues="ALL_NEW",
            ReturnConsumedCapacity="TOTAL",
        )
        got = client.batch_get_item(
            RequestItems={"serializer-probe": {"Keys": [key, {"PK": {"S": "x"}, "SK": {"S": "x"}}]}}
        )
        assert got["Responses"]["serializer-probe"][0]["bin"] == {"B": b"\x00\xff"}
        client.transact_get_items(TransactItems=[{"Get": {"TableName": "serializer-probe", "Key": key}}])
        client.transact_write_items(
            TransactItems=[{"Delete": {"TableName": "serializer-probe", "Key": {**key, "SK": {"S": "2"}}}}]
        )
        client.batch_write_item(RequestItems={"serializer-probe": [{"PutRequest": {"Item": item}}]})
        client.delete_item(TableName="serializer-probe", Key=key, ReturnValues="ALL_OLD")
    assert set(compared) == aws._FAST_SERIALIZED
