"""GET /executions/{id} with If-None-Match and waitSeconds: the long poll, through the gateway
emulation and the real handler on moto. Synchronised on the gate task and on the moment a held
request starts to wait, never on time."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from orchestration_local import aws, lambdas
from tests.integration.conftest import TERMINAL, Api, gate

DEADLINE = 60.0


def _gated_execution(api: Api) -> tuple[str, str]:
    key = uuid.uuid4().hex
    tasks = [{"name": "one", "type": "gate"}, {"name": "two", "type": "noop", "dependsOn": ["one"]}]
    status, _, wf = api.call("POST", "/workflows", {"name": "long-poll", "tasks": tasks})
    assert status == 201, wf
    status, _, started = api.call("POST", f"/workflows/{wf['id']}/execute", {"parameters": {"key": key}})
    assert status == 202, started
    gate(key).wait_entered()  # "one" is marked running
    return started["executionId"], key


def _when_held(monkeypatch: pytest.MonkeyPatch, execution_ids: list[str]) -> dict[str, threading.Event]:
    """An event per execution, set when a request for it waits for a write to its partition: it
    read the execution, found it unchanged, and is held."""
    held = {eid: threading.Event() for eid in execution_ids}
    subscribe, wait = aws.partition_writes, lambdas._PartitionWrites.wait
    waiting: dict[int, str] = {}

    @contextlib.contextmanager
    def partition_writes(partition: str) -> Iterator[threading.Event]:
        with subscribe(partition) as event:
            waiting[id(event)] = partition
            yield event

    def flagged_wait(self: lambdas._PartitionWrites, seconds: float) -> Any:
        partition = waiting.get(id(self._event), "")
        for eid, flag in held.items():
            if partition.endswith(f"#EX#{eid}"):
                flag.set()
        return wait(self, seconds)

    monkeypatch.setattr(aws, "partition_writes", partition_writes)
    monkeypatch.setattr(lambdas._PartitionWrites, "wait", flagged_wait)
    return held


def test_a_conditional_get_of_an_unchanged_execution_is_304_with_its_etag(api: Api) -> None:
    eid, key = _gated_execution(api)
    try:
        status, headers, body = api.call("GET", f"/executions/{eid}")
        assert status == 200 and body["tasks"][0]["status"] == "running", body
        etag = headers["etag"]
        assert api.call("GET", f"/executions/{eid}")[1]["etag"] == etag  # stable while nothing moves
        for given in (etag, f'"other", {etag}', f"W/{etag}", "*"):
            status, headers, body = api.call("GET", f"/executions/{eid}", headers={"If-None-Match": given})
            assert (status, body, headers["etag"]) == (304, None, etag), given
        status, headers, body = api.call("GET", f"/executions/{eid}", headers={"If-None-Match": '"old"'})
        assert status == 200 and headers["etag"] == etag
        # Held until the wait is up: still unchanged, 304.
        status, headers, _ = api.call(
            "GET", f"/executions/{eid}", headers={"If-None-Match": etag}, query="waitSeconds=0.2"
        )
        assert (status, headers["etag"]) == (304, etag)
    finally:
        gate(key).open()


@pytest.mark.parametrize("value", ["21", "-1", "soon", "1e999"])
def test_a_wait_out_of_range_is_400(api: Api, value: str) -> None:
    status, _, body = api.call("GET", "/executions/ex_missing", query=f"waitSeconds={value}")
    assert status == 400, body
    assert body["errors"][0]["field"] == "waitSeconds", body


def test_a_held_get_answers_when_the_execution_changes_and_the_end_is_seen(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid, key = _gated_execution(api)
    status, headers, _ = api.call("GET", f"/executions/{eid}")
    etag = headers["etag"]
    held = _when_held(monkeypatch, [eid])[eid]
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            api.call, "GET", f"/executions/{eid}", None, {"If-None-Match": etag}, "waitSeconds=20"
        )
        assert held.wait(DEADLINE), "the request was never held"
        assert not waiting.done()
        gate(key).open()
        status, headers, body = waiting.result(DEADLINE)
    assert status == 200, body
    assert headers["etag"] != etag and body["tasks"][0]["status"] != "running"
    # A watcher's loop: each answer is the next state, until the end.
    seen = headers["etag"]
    for _ in range(10):
        if body["status"] in TERMINAL:
            break
        status, headers, answer = api.call(
            "GET", f"/executions/{eid}", headers={"If-None-Match": seen}, query="waitSeconds=20"
        )
        assert status in {200, 304}, answer
        if status == 200:
            body, seen = answer, headers["etag"]
    assert body["status"] == "completed", body
    assert [t["status"] for t in body["tasks"]] == ["completed", "completed"]


def test_other_requests_run_while_one_is_held_and_each_answers_its_own(
    api: Api, other_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two held requests of the same function (two executions, two tenants), and plain requests
    # meanwhile: as in separate Lambda environments, none waits for another, and each held
    # request still answers for its own execution and tenant when it ends.
    first, first_key = _gated_execution(api)
    second, second_key = _gated_execution(other_api)
    tags = {
        eid: caller.call("GET", f"/executions/{eid}")[1]["etag"]
        for eid, caller in ((first, api), (second, other_api))
    }
    held = _when_held(monkeypatch, [first, second])

    def long_poll(caller: Api, eid: str) -> tuple[int, dict[str, str], Any]:
        return caller.call("GET", f"/executions/{eid}", None, {"If-None-Match": tags[eid]}, "waitSeconds=20")

    with ThreadPoolExecutor(2) as pool:
        waiting_first = pool.submit(long_poll, api, first)
        assert held[first].wait(DEADLINE), "the first request was never held"
        waiting_second = pool.submit(long_poll, other_api, second)
        assert held[second].wait(DEADLINE), "the second request was never held while the first was"
        status, _, listed = api.call("GET", "/workflows")  # a plain request meanwhile
        assert status == 200 and listed["total"] >= 1
        assert not waiting_first.done() and not waiting_second.done()
        gate(second_key).open()
        status, _, body = waiting_second.result(DEADLINE)
        assert (status, body["id"]) == (200, second), body
        assert not waiting_first.done()
        gate(first_key).open()
        status, _, body = waiting_first.result(DEADLINE)
        assert (status, body["id"]) == (200, first), body
    assert other_api.call("GET", f"/executions/{first}")[0] == 404  # still the owner's alone
