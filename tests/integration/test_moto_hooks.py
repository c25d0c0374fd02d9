"""The embedded runtime reaches into two moto internals (orchestration_local/aws.py). If a moto
upgrade moves them, these tests fail loudly instead of the runtime silently misbehaving."""

from __future__ import annotations

import json

import boto3

from orchestration_local import aws
from orchestration_local.runtime import Runtime


def test_hooks_are_installed(runtime: Runtime) -> None:
    assert aws.hooks_installed()


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
