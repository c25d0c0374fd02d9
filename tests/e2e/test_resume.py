"""An execution in flight when `orchestration dev` is killed (SIGKILL) resumes after a restart:
completed tasks are not run again, the interrupted task runs again and counts the attempt."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import DevServer

HOLDING_TASKS = Path(__file__).with_name("holding_tasks.py")
DEADLINE = 90.0


def wait_until(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {DEADLINE}s")
        time.sleep(0.02)
    return result


def execution(client: httpx.Client, eid: str) -> dict[str, Any]:
    response = client.get(f"/executions/{eid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def killed_mid_task(
    start_server: Callable[..., DevServer], data: Path, marks: Path, key: str, tasks: list[dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """Start `orchestration dev`, run ``tasks`` (one of them ``hold``), SIGKILL the server while
    hold runs: (execution id, the execution as read just before the kill)."""
    server = start_server(data, "--tasks", str(HOLDING_TASKS))
    api = server.client()
    wf = api.post("/workflows", json={"name": key, "tasks": tasks}).json()
    started = api.post(f"/workflows/{wf['id']}/execute", json={"parameters": {"dir": str(marks), "key": key}})
    assert started.status_code == 202, started.text
    eid = started.json()["executionId"]
    wait_until("hold started", lambda: (marks / f"{key}.started.1").exists())
    before = execution(api, eid)
    server.proc.kill()
    server.proc.wait()
    return eid, before


def test_a_run_killed_mid_task_resumes_after_restart(
    tmp_path: Path, start_server: Callable[..., DevServer]
) -> None:
    # Given a run of first -> hold -> last, killed while hold runs
    data, marks = tmp_path / "data", tmp_path / "marks"
    marks.mkdir()
    tasks = [
        {"name": "first", "type": "noop"},
        {"name": "hold", "type": "hold", "dependsOn": ["first"]},
        {"name": "last", "type": "noop", "dependsOn": ["hold"]},
    ]
    eid, before = killed_mid_task(start_server, data, marks, "k", tasks)
    assert before["status"] == "running" and before["tasks"][1]["status"] == "running", before

    # When the task can finish and the runtime starts again on the same data
    (marks / "k.release").touch()
    again = start_server(data, "--tasks", str(HOLDING_TASKS))
    assert "Resumed 1 execution(s)" in again.stdout_path.read_text()
    client = again.client()
    done = wait_until("the run ended", lambda: (e := execution(client, eid))["status"] != "running" and e)

    # Then it completed; first was not run again; hold ran again and counted the attempt
    assert done["status"] == "completed", done
    first, hold, last = done["tasks"]
    assert first == before["tasks"][0]
    assert hold["status"] == "completed" and hold["attempts"] == 2 and hold["result"] == {"start": 2}
    assert last["status"] == "completed" and last["attempts"] == 1
    assert (marks / "k.started.2").exists() and not (marks / "k.started.3").exists()
    again.assert_clean_stop()


def test_a_run_whose_task_type_is_gone_after_restart_fails_clearly_and_redrives_later(
    tmp_path: Path, start_server: Callable[..., DevServer]
) -> None:
    # Given a run killed mid-task
    data, marks = tmp_path / "data", tmp_path / "marks"
    marks.mkdir()
    eid, _ = killed_mid_task(start_server, data, marks, "g", [{"name": "hold", "type": "hold"}])

    # When the runtime restarts without the module that defines its task type
    without = start_server(data)
    failed = execution(without.client(), eid)

    # Then the run ends failed saying why (not stranded running), and nothing ran
    assert failed["status"] == "failed", failed
    assert failed["error"]["error"] == "ResumeFailed" and "hold" in failed["error"]["cause"]
    assert failed["tasks"][0]["status"] == "cancelled"
    without.assert_clean_stop()

    # And once the type is back, a redrive finishes it, the attempt counted
    (marks / "g.release").touch()
    back = start_server(data, "--tasks", str(HOLDING_TASKS))
    client = back.client()
    redriven = client.post(f"/executions/{eid}/redrive")
    assert redriven.status_code == 200, redriven.text
    done = wait_until("the run ended", lambda: (e := execution(client, eid))["status"] != "running" and e)
    assert done["status"] == "completed", done
    assert done["tasks"][0]["attempts"] == 2 and done["redriveCount"] == 1
    back.assert_clean_stop()
