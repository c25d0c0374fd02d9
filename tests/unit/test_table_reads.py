"""The runner's read of task runs goes through Table.get_many: keys DynamoDB leaves unprocessed
are asked again after a pause, and a store that keeps refusing ends in StoreThrottled instead of
a loop without end. A stub client stands in for DynamoDB (no moto: only the answers matter)."""

from __future__ import annotations

from typing import Any

import pytest
from orchestration_core.executions.store import ExecutionStore, pk
from orchestration_core.shared import table as table_module
from orchestration_core.shared.errors import StoreThrottled
from orchestration_core.shared.table import Table, serialize

NAME = "tbl"


class StubClient:
    """Answers BatchGetItem from ``items``, leaving the keys of the first ``refusals`` calls
    unprocessed (all of them when ``refusals`` is None)."""

    def __init__(self, items: list[dict[str, Any]], refusals: int | None) -> None:
        self.items = {(i["PK"], i["SK"]): i for i in items}
        self.refusals = refusals
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        keys = RequestItems[NAME]["Keys"]
        if self.refusals is None or self.calls <= self.refusals:
            return {"Responses": {NAME: []}, "UnprocessedKeys": RequestItems}
        found = [
            self.items[(k["PK"]["S"], k["SK"]["S"])]
            for k in keys
            if (k["PK"]["S"], k["SK"]["S"]) in self.items
        ]
        return {"Responses": {NAME: [serialize(i) for i in found]}}


def _run_item(name: str, status: str) -> dict[str, Any]:
    return {"PK": pk("t", "ex_1"), "SK": f"TASK#{name}", "name": name, "status": status, "attempts": 1}


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    monkeypatch.setattr(table_module, "backoff", seen.append)
    return seen


def test_unprocessed_keys_are_asked_again_after_a_pause(pauses: list[int]) -> None:
    client = StubClient([_run_item("a", "completed"), _run_item("b", "running")], refusals=2)
    runs = ExecutionStore(Table(client, NAME)).runs("t", "ex_1", ["a", "b", "missing"])
    assert {n: r.status.value for n, r in runs.items()} == {"a": "completed", "b": "running"}
    assert (client.calls, pauses) == (3, [0, 1])


def test_a_store_that_keeps_refusing_ends_in_store_throttled(pauses: list[int]) -> None:
    client = StubClient([_run_item("a", "completed")], refusals=None)
    with pytest.raises(StoreThrottled):
        ExecutionStore(Table(client, NAME)).runs("t", "ex_1", ["a"])
    assert client.calls == len(pauses) + 1 > 1
