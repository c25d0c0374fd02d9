"""How many DynamoDB and Step Functions requests the task runner makes per task.

The runner's requests are counted by operation with a botocore ``before-call`` hook on the
clients it uses, counting only calls made while ``Runner.handle`` runs on the calling thread
(the API's own reads, e.g. the polling of ``wait_for``, are not the runner's). The counts are
exact, so a change that adds a request per task fails here instead of creeping in.

Per execution the runner also makes a fixed number of requests: ``start`` (read the record,
move it to running) and ``finish`` (read the record, move it to its end).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from orchestration_core import services
from orchestration_core.runner import Runner

from tests.integration.conftest import Api, run

N = 10
# start: GetItem + UpdateItem (pending -> running, a transaction with its counters);
# finish: GetItem + the same for the end.
PER_EXECUTION = {"GetItem": 2, "TransactWriteItems": 2}


class Requests:
    """botocore calls by operation, made inside ``Runner.handle`` (and how many handle calls)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.invocations: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._inside = threading.local()

    def hook(self, model: Any, **_: Any) -> None:
        if getattr(self._inside, "depth", 0):
            with self._lock:
                self.calls[model.name] += 1

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.invocations.clear()

    def dynamodb(self) -> Counter[str]:
        return Counter({op: n for op, n in self.calls.items() if op in _DYNAMODB_OPS})

    def wrap(self, handle: Any) -> Any:
        def counted(runner: Runner, event: Any) -> dict[str, Any]:
            with self._lock:
                self.invocations[event.action] += 1
            self._inside.depth = getattr(self._inside, "depth", 0) + 1
            try:
                result: dict[str, Any] = handle(runner, event)
                return result
            finally:
                self._inside.depth -= 1

        return counted


_DYNAMODB_OPS = {
    "GetItem",
    "BatchGetItem",
    "Query",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "TransactGetItems",
}


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[Requests]:
    counter = Requests()
    monkeypatch.setattr(Runner, "handle", counter.wrap(Runner.handle))
    clients = [services.table().client, services.engine().sfn]
    for client in clients:
        client.meta.events.register("before-call.*.*", counter.hook)
    try:
        yield counter
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.*.*", counter.hook)


def noop(name: str, *deps: str) -> dict[str, Any]:
    return {"name": name, "type": "noop", "dependsOn": list(deps)}


def chain(n: int) -> list[dict[str, Any]]:
    return [noop("t0"), *(noop(f"t{i}", f"t{i - 1}") for i in range(1, n))]


def fork(n: int) -> list[dict[str, Any]]:
    """A root, n - 2 tasks that depend on it, and a join of all of them."""
    middle = [noop(f"m{i}", "root") for i in range(n - 2)]
    return [noop("root"), *middle, noop("join", *(t["name"] for t in middle))]


def gated(n: int) -> list[dict[str, Any]]:
    """Not series-parallel: "N" shapes side by side (a -> c, b -> c, a -> d), n tasks in all."""
    tasks: list[dict[str, Any]] = []
    for k in range(n // 4):
        a, b, c, d = (f"{x}{k}" for x in "abcd")
        tasks += [noop(a), noop(b), noop(c, a, b), noop(d, a)]
    return tasks


def measure(api: Api, requests: Requests, tasks: list[dict[str, Any]]) -> Counter[str]:
    requests.reset()
    ex = run(api, tasks, {"rows": 3})
    assert ex["status"] == "completed", ex
    return requests.calls


def report(shape: str, n: int, calls: Counter[str], requests: Requests) -> str:
    ddb = sum(requests.dynamodb().values())
    per_task = (ddb - sum(PER_EXECUTION.values())) / n
    return f"{shape}: {n} tasks, {dict(sorted(calls.items()))}, {per_task:.2f} DynamoDB requests per task"


def test_chain_request_counts(api: Api, requests: Requests) -> None:
    calls = measure(api, requests, chain(N))
    print(report("chain", N, calls, requests))
    assert requests.invocations == {"start": 1, "run": N, "finish": 1}


def test_fork_request_counts(api: Api, requests: Requests) -> None:
    calls = measure(api, requests, fork(N))
    print(report("fork", N, calls, requests))


def test_gated_request_counts(api: Api, requests: Requests) -> None:
    calls = measure(api, requests, gated(8))
    print(report("gated", 8, calls, requests))
