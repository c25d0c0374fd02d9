"""How many DynamoDB and Step Functions requests the task runner makes per task.

The runner's requests are counted by operation with a botocore ``before-call`` hook on the
clients it uses, counting only calls made while ``Runner.handle`` runs on the calling thread
(the API's own reads, e.g. the polling of ``wait_for``, are not the runner's). The counts are
exact, so a change that adds a request per task fails here instead of creeping in.

Per execution the runner also makes a fixed number of requests: ``start`` (read the record,
move it to running) and ``finish`` (read the record, move it to its end).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from orchestration_core import services
from orchestration_core.engine import compiler
from orchestration_core.executions import usecases as executions
from orchestration_core.executions.runner import Runner
from orchestration_core.workflows.models import TaskDef

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


def measure(api: Api, requests: Requests, tasks: list[dict[str, Any]], **parameters: Any) -> dict[str, Any]:
    requests.reset()
    ex = run(api, tasks, {"rows": 3, **parameters})
    assert ex["status"] == "completed", ex
    return ex


def per_task(requests: Requests, n: int) -> float:
    return (sum(requests.dynamodb().values()) - sum(PER_EXECUTION.values())) / n


def expected(**calls: int) -> Counter[str]:
    """The runner's calls: the per-execution ones plus ``calls``."""
    total = Counter(PER_EXECUTION)
    total.update(calls)
    return +total


# Per task: UpdateItem to mark it running (returns its attempts), BatchGetItem of its
# dependencies' results (only a task with dependencies), UpdateItem to record its result.


def test_a_chain_costs_at_most_three_requests_per_task(api: Api, requests: Requests) -> None:
    measure(api, requests, chain(N))
    assert requests.calls == expected(UpdateItem=2 * N, BatchGetItem=N - 1)
    assert requests.invocations == {"start": 1, "run": N, "finish": 1}
    assert per_task(requests, N) <= 3


def test_a_fork_costs_at_most_three_requests_per_task(api: Api, requests: Requests) -> None:
    measure(api, requests, fork(N))
    assert requests.calls == expected(UpdateItem=2 * N, BatchGetItem=N - 1)
    assert requests.invocations == {"start": 1, "run": N, "finish": 1}
    assert per_task(requests, N) <= 3


def test_a_gated_graph_adds_one_write_per_gate_and_per_gating_edge(api: Api, requests: Requests) -> None:
    # Two "N" shapes: c and d are gated (an await each, parking the token with the gate's
    # count), a reports to c and d, b to c (an UpdateItem each that returns the gate). Every
    # gate is released exactly once.
    n, shapes = 8, 2
    measure(api, requests, gated(n))
    gates, edges = 2 * shapes, 3 * shapes
    assert requests.calls == expected(
        UpdateItem=2 * n + gates + edges, BatchGetItem=gates, SendTaskSuccess=gates
    )
    assert requests.invocations == {"start": 1, "await": gates, "run": n, "finish": 1}
    assert per_task(requests, n) <= 3.75


def random_dag(n: int, seed: int) -> list[dict[str, Any]]:
    """Each task depends on 0-3 random earlier tasks (mostly not series-parallel)."""
    rng = random.Random(seed)
    return [
        noop(f"t{i}", *sorted({f"t{j}" for j in rng.sample(range(i), min(i, rng.randint(0, 3)))}))
        for i in range(n)
    ]


def gates_of(tasks: list[dict[str, Any]]) -> tuple[int, int]:
    """(gated tasks, gating edges) of the compiled machine: its awaits and their counts."""
    defs = [TaskDef(t["name"], t["type"], {}, tuple(t["dependsOn"])) for t in tasks]
    definition = compiler.compile_definition(defs, "runner", {})
    counts: list[int] = []

    def walk(states: dict[str, Any]) -> None:
        for state in states.values():
            for branch in state.get("Branches", []):
                walk(branch["States"])
            payload = (state.get("Parameters") or {}).get("Payload") or {}
            if payload.get("action") == "await":
                counts.append(payload["gate"])

    walk(definition["States"])
    return len(counts), sum(counts)


def test_a_random_dag_costs_what_its_gates_add(api: Api, requests: Requests) -> None:
    n = 50
    tasks = random_dag(n, 1)
    gates, edges = gates_of(tasks)
    assert gates > 10
    measure(api, requests, tasks)
    with_deps = sum(1 for t in tasks if t["dependsOn"])
    assert requests.calls == expected(
        UpdateItem=2 * n + gates + edges, BatchGetItem=with_deps, SendTaskSuccess=gates
    )


def test_large_parameters_are_read_with_the_dependencies(api: Api, requests: Requests) -> None:
    # Parameters over 8 KiB stay out of the state: each task reads them from the record, in
    # the read it makes anyway (a root task makes that one read for them).
    big = "x" * (9 * 1024)
    ex = measure(api, requests, chain(3), blob=big)
    assert requests.calls == expected(UpdateItem=2 * 3, BatchGetItem=3)
    runs = {t["name"]: t for t in ex["tasks"]}
    assert runs["t0"]["result"]["parameters"] == {"rows": 3, "blob": big}
    assert runs["t2"]["result"]["inputs"]["t1"]["parameters"]["blob"] == big


def test_configs_over_the_definition_budget_are_read_from_the_record(
    api: Api, requests: Requests, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a budget of 10,000 bytes for specs, four of eight 2,000-byte configs fit: those
    # tasks (roots: nothing to read) read nothing; the other four read the record, once each.
    monkeypatch.setattr(compiler, "SPEC_BUDGET_BYTES", 10_000)
    tasks = [{**noop(f"r{i}"), "config": {"payload": "y" * 2_000, "n": i}} for i in range(8)]
    ex = measure(api, requests, tasks)
    assert all(
        t["result"]["config"] == {"payload": "y" * 2_000, "n": int(t["name"][1:])} for t in ex["tasks"]
    )
    assert requests.calls == expected(UpdateItem=2 * 8, BatchGetItem=4)


def _as_compiled_before(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition as the compiler wrote it before the state carried the execution's
    context, the tasks' specs and the gates' counts (machines still running after an upgrade)."""

    def walk(states: dict[str, Any]) -> None:
        for state in states.values():
            for branch in state.get("Branches", []):
                walk(branch["States"])
            params = state.get("Parameters") or {}
            params = params.get("Payload", params)
            if "action" not in params:
                continue
            for key in ("execution.$", "spec", "gate"):
                params.pop(key, None)
            if params["action"] == "run":
                state.pop("ResultPath", None)
            if params["action"] == "complete":
                params.pop("result", None)

    walk(definition["States"])
    return definition


def test_machines_compiled_before_run_as_they_did(
    api: Api, requests: Requests, monkeypatch: pytest.MonkeyPatch
) -> None:
    compile_definition = compiler.compile_definition
    monkeypatch.setattr(
        executions, "compile_definition", lambda *args: _as_compiled_before(compile_definition(*args))
    )
    tasks = [
        noop("a"),
        {"name": "b", "type": "wait", "config": {"seconds": 0}},
        {"name": "c", "type": "transform", "config": {"expression": "inputs"}, "dependsOn": ["a", "b"]},
        noop("d", "a"),
    ]
    ex = measure(api, requests, tasks)
    runs = {t["name"]: t for t in ex["tasks"]}
    assert runs["b"]["result"] == {"waitedSeconds": 0}
    assert runs["c"]["result"] == {"a": runs["a"]["result"], "b": {"waitedSeconds": 0}}
    assert runs["d"]["result"]["inputs"] == {"a": runs["a"]["result"]}
    assert runs["a"]["result"]["parameters"] == {"rows": 3}
    # Served the old way: each task reads the record; a gate is checked by reading records.
    assert requests.calls["GetItem"] >= PER_EXECUTION["GetItem"] + len(tasks), requests.calls
    assert requests.calls["SendTaskSuccess"] >= 2
