"""Integration fixtures: the template's handlers on moto, in this process, behind the gateway emulation."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestration_local.gateway import HttpRequest
from orchestration_local.runtime import Runtime


class Api:
    """Calls the API as a client would, through the API Gateway emulation (authorizer included)."""

    def __init__(self, runtime: Runtime, key: str | None) -> None:
        self.runtime = runtime
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        query: str = "",
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if self.key:
            hdrs.setdefault("Authorization", f"Bearer {self.key}")
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        resp = self.runtime.gateway.handle(HttpRequest(method, path, query, list(hdrs.items()), payload))
        out_headers = {k.lower(): v for k, v in resp.headers}
        parsed = json.loads(resp.body) if resp.body else None
        return resp.status, out_headers, parsed


_attempts: dict[str, int] = {}
_attempts_lock = threading.Lock()


def _sleep(task: dict[str, Any]) -> dict[str, Any]:
    time.sleep(float(task["config"].get("seconds", 0)))
    return {"slept": task["config"].get("seconds", 0), "inputs": task["inputs"]}


def _flaky(task: dict[str, Any]) -> dict[str, Any]:
    """Fails ``config.failures`` times per ``parameters.key``, then succeeds."""
    key = str(task["parameters"]["key"])
    with _attempts_lock:
        _attempts[key] = _attempts.get(key, 0) + 1
        attempt = _attempts[key]
    if attempt <= int(task["config"]["failures"]):
        raise FlakyError(f"attempt {attempt} failed")
    return {"attempt": attempt}


def _boom(task: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("boom: " + str(task["config"].get("message", "")))


def _big(task: dict[str, Any]) -> dict[str, Any]:
    return {"blob": "x" * int(task["config"]["bytes"])}


class FlakyError(Exception):
    pass


class Gate:
    """A task that holds until the test opens it: ``gate`` tasks wait on ``parameters.key``.

    The test waits for ``entered`` (the task is running, its mark written), then opens the
    gate with an outcome: ``"ok"`` completes the task, ``"fail"`` raises. Nothing here races
    the clock: every wait has a deadline that fails the test.
    """

    DEADLINE = 60.0

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.outcome = "ok"
        self.calls = 0

    def open(self, outcome: str = "ok") -> None:
        self.outcome = outcome
        self.opened.set()

    def wait_entered(self) -> None:
        assert self.entered.wait(self.DEADLINE), "the gate task never started"


_gates: dict[str, Gate] = {}
_gates_lock = threading.Lock()


def gate(key: str) -> Gate:
    with _gates_lock:
        return _gates.setdefault(key, Gate())


def _gate(task: dict[str, Any]) -> dict[str, Any]:
    g = gate(str(task["parameters"]["key"]))
    g.calls += 1
    g.entered.set()
    if not g.opened.wait(Gate.DEADLINE):
        raise TimeoutError("the test never opened the gate")
    g.opened.clear()
    g.entered.clear()
    if g.outcome == "fail":
        raise GateFailed(f"failed on call {g.calls}")
    return {"calls": g.calls}


class GateFailed(Exception):
    pass


_counts: dict[tuple[str, str], int] = {}


def _count(task: dict[str, Any]) -> dict[str, Any]:
    """Counts its own runs per (parameters.key, config.name): a completed task never runs twice."""
    counter = (str(task["parameters"]["key"]), str(task["config"]["name"]))
    with _attempts_lock:
        _counts[counter] = _counts.get(counter, 0) + 1
        return {"runs": _counts[counter], "inputs": task["inputs"]}


def runs_of(key: str, name: str) -> int:
    with _attempts_lock:
        return _counts.get((key, name), 0)


def _context(task: dict[str, Any]) -> dict[str, Any]:
    """Returns the task input's ``context``; with ``config.failFirst`` its first run fails."""
    counter = (str(task["parameters"]["key"]), "context")
    with _attempts_lock:
        _counts[counter] = _counts.get(counter, 0) + 1
        first = _counts[counter] == 1
    if first and task["config"].get("failFirst"):
        raise GateFailed("the first run fails")
    return dict(task["context"])


# Custom task types the integration tests run (the embedded runtime's --tasks mechanism).
TEST_TASKS = {
    "sleep": _sleep,
    "flaky": _flaky,
    "boom": _boom,
    "big": _big,
    "gate": _gate,
    "count": _count,
    "context": _context,
}


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    rt = Runtime(tmp_path_factory.mktemp("runtime"), persist=False, tasks=TEST_TASKS)
    yield rt
    rt.close()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _purge_schedules(runtime: Runtime, tenant: str) -> Iterator[None]:
    """Leave no schedule of the test's tenant behind: the due index is shared by the session."""
    yield
    from orchestration_core.services import schedule_store

    store = schedule_store()
    while page := store.page(tenant, None, 100, 0).items:
        for sc in page:
            store.delete(sc)


@pytest.fixture
def api(runtime: Runtime, tenant: str) -> Api:
    plaintext, _ = runtime.key_store().create(tenant, "test")
    return Api(runtime, plaintext)


@pytest.fixture
def other_api(runtime: Runtime) -> Api:
    plaintext, _ = runtime.key_store().create(f"t-{uuid.uuid4().hex[:12]}", "other tenant")
    return Api(runtime, plaintext)


ETL = {
    "name": "Data Processing Pipeline",
    "tasks": [
        {"name": "extract", "type": "data-extraction"},
        {"name": "transform", "type": "data-transformation", "dependsOn": ["extract"]},
        {"name": "load", "type": "data-loading", "dependsOn": ["transform"]},
    ],
}

EVENTS = Path(__file__).resolve().parents[2] / "events"


TERMINAL = {"completed", "failed", "cancelled"}


def wait_for(api: Api, execution_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll GET /executions/{id} until the execution ends (as a client would); fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = api.call("GET", f"/executions/{execution_id}")
        assert status == 200, body
        if body["status"] in TERMINAL:
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"execution {execution_id} did not end within {timeout}s: {body}")
        time.sleep(0.1)


def run(
    api: Api, tasks: list[dict[str, Any]], parameters: dict[str, Any] | None = None, timeout: float = 30.0
) -> dict[str, Any]:
    """Create a workflow with ``tasks``, execute it and wait for the end."""
    status, _, wf = api.call("POST", "/workflows", {"name": "t", "tasks": tasks})
    assert status == 201, wf
    status, _, started = api.call("POST", f"/workflows/{wf['id']}/execute", {"parameters": parameters or {}})
    assert status == 202, started
    return wait_for(api, started["executionId"], timeout)
