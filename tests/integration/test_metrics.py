"""The handlers' metrics (orchestration_core.shared.metrics) as EMF lines: on for these tests, off in
the embedded runtime otherwise (POWERTOOLS_METRICS_DISABLED, which it sets)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from orchestration_core.shared import clock

from orchestration_local.runtime import Runtime
from orchestration_local.ticker import scheduled_event
from tests.integration.conftest import Api, wait_for


def emf(out: str) -> list[dict[str, Any]]:
    """The EMF documents printed (one JSON object a line with an ``_aws`` key)."""
    docs = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            docs.append(json.loads(line))
    return docs


def total(docs: list[dict[str, Any]], name: str) -> float:
    found = 0.0
    for doc in docs:
        if name in doc:
            values = doc[name] if isinstance(doc[name], list) else [doc[name]]
            found += sum(values)
    return found


def printed_until(
    capsys: pytest.CaptureFixture[str], name: str, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """The EMF documents printed so far and until one counts ``name`` (the task runner writes
    its counts when its invocation returns, a moment after the record it wrote); fails at the
    deadline."""
    docs: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        docs += emf(capsys.readouterr().out)
        if total(docs, name) >= 1:
            return docs
        assert time.monotonic() < deadline, f"no {name} was printed: {docs}"
        time.sleep(0.05)


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def execute(api: Api, tasks: list[dict[str, Any]]) -> str:
    status, _, wf = api.call("POST", "/workflows", {"name": "m", "tasks": tasks})
    assert status == 201, wf
    status, _, started = api.call("POST", f"/workflows/{wf['id']}/execute")
    assert status == 202, started
    return str(started["executionId"])


def test_an_execute_and_its_task_runs_are_counted(
    api: Api, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    eid = execute(api, [{"name": "a", "type": "noop"}, {"name": "b", "type": "noop", "dependsOn": ["a"]}])
    assert wait_for(api, eid)["status"] == "completed"
    docs = printed_until(capsys, "ExecutionsCompleted")
    assert total(docs, "ExecutionsStarted") >= 1
    assert total(docs, "TasksRun") >= 2
    assert total(docs, "ExecutionsCompleted") >= 1
    # Namespace and dimensions: per stack (the embedded runtime's stack is "orch")
    for doc in docs:
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "Orchestration"
        assert [sorted(d) for d in directive["Dimensions"]] == [["Stack", "service"]]
        assert (doc["service"], doc["Stack"]) == ("orchestration", "orch")


def test_a_failed_execution_is_counted(
    api: Api, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    eid = execute(api, [{"name": "f", "type": "fail"}])
    assert wait_for(api, eid)["status"] == "failed"
    docs = printed_until(capsys, "ExecutionsFailed")
    assert total(docs, "ExecutionsFailed") >= 1
    assert total(docs, "TasksRun") >= 1


def test_nothing_is_printed_with_metrics_off(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    # The embedded runtime's default: many task runs (Powertools alone would print a full set
    # of 100 values even while disabled), and no EMF line
    capsys.readouterr()
    tasks = [{"name": f"t{i}", "type": "noop"} for i in range(60)]
    for _ in range(2):
        assert wait_for(api, execute(api, tasks))["status"] == "completed"
    assert emf(capsys.readouterr().out) == []


def test_the_dispatchers_fires_are_counted(
    runtime: Runtime, api: Api, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, wf = api.call("POST", "/workflows", {"name": "m", "tasks": [{"name": "a", "type": "noop"}]})
    assert status == 201, wf
    status, _, sc = api.call("POST", "/schedules", {"workflowId": wf["id"], "cronExpression": "*/5 * * * *"})
    assert status == 201, sc
    capsys.readouterr()
    tick = clock.parse_iso(sc["nextRunAt"]) + timedelta(seconds=3)
    result = runtime.functions.invoke(
        "SchedulerDispatchFunction", scheduled_event("SchedulerDispatchFunction", tick)
    )
    assert result["started"] >= 1, result
    docs = emf(capsys.readouterr().out)
    assert total(docs, "SchedulesFired") >= 1
    assert total(docs, "ExecutionsStarted") >= 1
