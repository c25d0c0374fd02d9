"""`orchestration schedules create|get|pause|resume|trigger|backfill` against the embedded runtime
(the CLI's HTTP client replaced by the in-process gateway client)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestration_local import cli, client
from tests.integration.conftest import Api, wait_for
from tests.integration.test_dispatcher import workflow

NOOP = {"name": "cli", "tasks": [{"name": "a", "type": "noop"}]}


@pytest.fixture
def orchestration(api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    class Through:
        def call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
            status, _, answer = api.call(method, path, body)
            if status >= 400:
                raise client.ApiError(status, answer)
            return answer

    monkeypatch.setattr(client, "client_from", lambda url, data_dir: Through())

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = cli.main(list(argv))
        except SystemExit as stop:
            code = int(stop.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_create_get_pause_resume_trigger_backfill(api: Api, orchestration: Any) -> None:
    wid = workflow(api, NOOP)
    code, out, _ = orchestration(
        "schedules", "create", wid, "30 2 * * *", "--timezone", "Europe/Berlin",
        "--overlap-policy", "skip", "--param", "rows=3", "--json",
    )  # fmt: skip
    assert code == 0
    sc = json.loads(out)
    assert sc["overlapPolicy"] == "skip" and sc["parameters"] == {"rows": 3}
    code, out, _ = orchestration("schedules", "get", sc["id"])
    assert code == 0
    assert "30 2 * * *  (Europe/Berlin)" in out and "overlap        skip" in out
    # Each upcoming time in the schedule's zone beside UTC: 02:30 Berlin.
    assert out.count(" 02:30 CE") == 5 and sc["upcomingRunTimes"][0] in out

    code, out, _ = orchestration("schedules", "pause", sc["id"], "--note", "migrating")
    assert code == 0 and "paused" in out and "migrating" in out and "upcoming       none" in out
    code, out, _ = orchestration("schedules", "resume", sc["id"])
    assert code == 0 and "enabled" in out

    code, out, _ = orchestration("schedules", "trigger", sc["id"], "--overlap-policy", "allow")
    assert code == 0 and out.startswith("started ex_")
    wait_for(api, out.split()[1])

    code, out, _ = orchestration(
        "schedules", "backfill", sc["id"], "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-03T00:00:00Z"
    )
    assert code == 0 and out.startswith("2 slots, 0 skipped")
    assert "2026-01-01T01:30:00.000Z  ex_" in out  # 02:30 in Berlin's winter

    code, _, err = orchestration("schedules", "backfill", sc["id"], "--start", "x", "--end", "y")
    assert code == 1 and "startAt: must be an ISO 8601 date-time" in err
