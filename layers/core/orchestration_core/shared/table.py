"""One DynamoDB table, one mechanism for indexed entities and exact counts.

Key design (single table, see docs/data-model.md):

- Every entity item has ``PK``/``SK`` built from its tenant and id, so a read can only ever
  find the caller's own objects.
- An entity is a member of up to four list *partitions* (e.g. ``T#<tenant>#WF`` and
  ``T#<tenant>#WF#S#draft``). Membership *n* is written as ``GSI<n>PK`` = partition and
  ``GSI<n>SK`` = id. Ids sort by creation time, so a descending Query on ``GSI<n>`` lists
  newest first without scanning anything.
- Each partition has a counter item ``PK = COUNT#<partition>``. Every write that changes
  memberships updates the counters in the same transaction, so ``total`` is exact.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from orchestration_core.shared.errors import ConcurrentUpdate, StoreThrottled, StoreUnavailable
from orchestration_core.shared.pagination import Cursor, Page, encode_cursor

T = TypeVar("T")

_ser = TypeSerializer()
_deser = TypeDeserializer()

MAX_INDEXES = 4
# A transaction cancelled by conflicts is retried inside the one store call, before its caller
# (which may itself re-read and retry, see retry_on_conflict) hears of it: fewer attempts than
# CONFLICT_ATTEMPTS so the two loops together stay short, and a 429 answers soon.
_TRANSACTION_RETRIES = 8
# The one attempt count of a conditional write that lost a race (retry_on_conflict): enough for
# many writers of one item (16 in the tests) to each get through once backoff spreads them.
CONFLICT_ATTEMPTS = 16
_BATCH_GET = 100  # BatchGetItem's limit


def backoff(attempt: int) -> None:
    """Jittered pause before retrying a write that lost a race (spreads racing writers): up to
    5 ms * 2^attempt, at most 1 s, so many writers of one item (16 in the tests) spread out
    instead of losing to each other until their retries run out."""
    time.sleep(random.uniform(0, min(1.0, 0.005 * 2**attempt)))  # noqa: S311 - jitter, not crypto


def retry_on_conflict(attempts: int = CONFLICT_ATTEMPTS) -> Iterator[int]:
    """The one retry policy of a conditional write that lost a race: yields the attempt numbers
    ``0 .. attempts - 1`` and pauses with ``backoff`` (full jitter, at most 1 s) before every
    attempt after the first. The caller's loop body re-reads what it must, writes, and leaves the
    loop when the write went through; what follows the loop is the caller's answer when the
    attempts ran out (a 409, a 429, or giving up quietly).

    ``for attempt in retry_on_conflict(): ...``"""
    for attempt in range(attempts):
        if attempt:
            backoff(attempt)
        yield attempt


class ConditionFailed(Exception):
    """A conditional write lost: ``index`` is the position of the operation that failed."""

    def __init__(self, index: int) -> None:
        super().__init__(f"condition of operation {index} failed")
        self.index = index


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deser.deserialize(v) for k, v in item.items()}


def index_attributes(memberships: Mapping[int, str], sort_key: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for n, partition in memberships.items():
        attrs[f"GSI{n}PK"] = partition
        attrs[f"GSI{n}SK"] = sort_key
    return attrs


class Table:
    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    # -- single items -------------------------------------------------------------------------
    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        resp = self._call(
            self.client.get_item,
            TableName=self.name,
            Key=serialize({"PK": pk, "SK": sk}),
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return deserialize(item) if item else None

    def get_many(self, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Consistent reads of many items (BatchGetItem, 100 keys a request); missing items are
        left out, in no particular order. Keys DynamoDB leaves unprocessed are asked again."""
        found: list[dict[str, Any]] = []
        for first in range(0, len(keys), _BATCH_GET):
            request: dict[str, Any] = {
                self.name: {
                    "Keys": [serialize({"PK": pk, "SK": sk}) for pk, sk in keys[first : first + _BATCH_GET]],
                    "ConsistentRead": True,
                }
            }
            attempt = 0
            while request:
                resp = self._call(self.client.batch_get_item, RequestItems=request)
                found.extend(deserialize(i) for i in resp.get("Responses", {}).get(self.name, []))
                request = resp.get("UnprocessedKeys") or {}
                if request:
                    if attempt == _TRANSACTION_RETRIES:
                        raise StoreThrottled("The store is throttling reads; retry shortly.")
                    backoff(attempt)
                    attempt += 1
        return found

    def put_op(
        self,
        item: Mapping[str, Any],
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        op: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        _add_condition(op, condition, values, names)
        return {"Put": op}

    def delete_op(
        self,
        pk: str,
        sk: str,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        op: dict[str, Any] = {"TableName": self.name, "Key": serialize({"PK": pk, "SK": sk})}
        _add_condition(op, condition, values, names)
        return {"Delete": op}

    def update_op(
        self,
        pk: str,
        sk: str,
        expression: str,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        condition: str | None = None,
    ) -> dict[str, Any]:
        op: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialize({"PK": pk, "SK": sk}),
            "UpdateExpression": expression,
        }
        _add_condition(op, condition, values, names)
        return {"Update": op}

    def counter_ops(self, old: Mapping[int, str], new: Mapping[int, str]) -> list[dict[str, Any]]:
        """Counter updates for an entity moving from memberships ``old`` to ``new``."""
        before, after = set(old.values()), set(new.values())
        ops = []
        for partition, delta in [
            *((p, -1) for p in sorted(before - after)),
            *((p, 1) for p in sorted(after - before)),
        ]:
            ops.append(self.update_op(f"COUNT#{partition}", "COUNT", "ADD n :d", {":d": delta}))
        return ops

    def transact(self, ops: list[dict[str, Any]]) -> None:
        """Write all or nothing. Retries transaction conflicts; a failed condition raises ConditionFailed."""
        if len(ops) == 1:
            self._single(ops[0])
            return
        for _ in retry_on_conflict(_TRANSACTION_RETRIES):
            try:
                self._call(self.client.transact_write_items, TransactItems=ops)
                return
            except ClientError as err:
                if err.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = err.response.get("CancellationReasons") or []
                codes = [r.get("Code") for r in reasons]
                if "ConditionalCheckFailed" in codes:
                    raise ConditionFailed(codes.index("ConditionalCheckFailed")) from None
        raise ConcurrentUpdate("The store is busy with conflicting writes; retry shortly.")

    def _single(self, op: dict[str, Any]) -> None:
        ((kind, body),) = op.items()
        call: Callable[..., Any] = {
            "Put": self.client.put_item,
            "Delete": self.client.delete_item,
            "Update": self.client.update_item,
        }[kind]
        try:
            self._call(call, **body)
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConditionFailed(0) from None
            raise

    # -- counts and pages -----------------------------------------------------------------------
    def count(self, partition: str) -> int:
        item = self.get(f"COUNT#{partition}", "COUNT")
        return int(item["n"]) if item else 0

    def page(
        self,
        index: int,
        partition: str,
        limit: int,
        position: Cursor | int,
        start_key: Callable[[str], dict[str, str]],
    ) -> tuple[list[dict[str, Any]], int]:
        """Items of ``partition`` newest first: (items, offset of the first item).

        With a cursor the read starts right after the cursor's id (O(limit) reads); with an
        offset the first ``offset`` items are read and skipped.
        """
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": f"GSI{index}",
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": f"GSI{index}PK"},
            "ExpressionAttributeValues": serialize({":pk": partition}),
            "ScanIndexForward": False,
        }
        if isinstance(position, Cursor):
            skip, first_offset = 0, position.offset
            kwargs["ExclusiveStartKey"] = serialize(
                {
                    **start_key(position.after_id),
                    f"GSI{index}PK": partition,
                    f"GSI{index}SK": position.after_id,
                }
            )
        else:
            skip, first_offset = position, position
        items: list[dict[str, Any]] = []
        wanted = skip + limit
        while len(items) < wanted:
            kwargs["Limit"] = min(wanted - len(items), 1000)
            resp = self._call(self.client.query, **kwargs)
            items.extend(deserialize(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return items[skip:wanted], first_offset

    def list_page(
        self,
        index: int,
        partition: str,
        limit: int,
        position: Cursor | int,
        start_key: Callable[[str], dict[str, str]],
        convert: Callable[[dict[str, Any]], T],
    ) -> Page[T]:
        """One page of a list, as the API returns it: items, exact total, and a cursor to the rest."""
        items, first = self.page(index, partition, limit, position, start_key)
        total = self.count(partition)
        more = first + len(items) < total and len(items) == limit
        token = encode_cursor(Cursor(first + len(items), items[-1]["id"])) if more and items else None
        return Page(
            items=[convert(i) for i in items], total=total, limit=limit, offset=first, next_token=token
        )

    # -- queries and returning updates, for the stores' own request shapes ----------------------
    def query_pages(self, **query: Any) -> Iterator[list[dict[str, Any]]]:
        """The pages of a Query of this table (``query`` without TableName), items deserialized;
        a page may be empty. Stops after the last page; a caller may stop earlier."""
        kwargs = {"TableName": self.name, **query}
        while True:
            resp = self._call(self.client.query, **kwargs)
            yield [deserialize(i) for i in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def query_first_page(self, **query: Any) -> list[dict[str, Any]]:
        return next(self.query_pages(**query))

    def update_returning(self, **update: Any) -> tuple[bool, dict[str, Any] | None]:
        """One UpdateItem (``update`` without TableName) that answers what the item holds: (True,
        the item as written, per ``ReturnValues``) or, when its ConditionExpression does not
        hold, (False, the item as it is; None if there is none)."""
        request = {"TableName": self.name, **update}
        if "ConditionExpression" in request:
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            resp = self._call(self.client.update_item, **request)
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old: Any = err.response.get("Item")
            return False, deserialize(old) if old else None
        new = resp.get("Attributes")
        return True, deserialize(new) if new else None

    # -- errors -----------------------------------------------------------------------------------
    @staticmethod
    def _call(fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code in {
                "ProvisionedThroughputExceededException",
                "ThrottlingException",
                "RequestLimitExceeded",
            }:
                raise StoreThrottled("The store is throttling requests; retry shortly.") from err
            if code == "PersistenceUnavailable":  # the embedded runtime could not keep the write
                raise StoreUnavailable("The store cannot keep writes right now; retry shortly.") from err
            raise


def _add_condition(
    op: dict[str, Any],
    condition: str | None,
    values: Mapping[str, Any] | None,
    names: Mapping[str, str] | None,
) -> None:
    if condition:
        op["ConditionExpression"] = condition
    if values:
        op["ExpressionAttributeValues"] = serialize(values)
    if names:
        op["ExpressionAttributeNames"] = dict(names)
