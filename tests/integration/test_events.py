"""Every sample event in events/ runs through its function's handler (as `sam local invoke` would)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration_local.runtime import Runtime

EVENTS = Path(__file__).resolve().parents[2] / "events"


def function_for(runtime: Runtime, event_file: Path) -> str:
    folder = event_file.stem
    matches = [fid for fid, spec in runtime.template.functions.items() if spec.code_uri.name == folder]
    assert matches, f"no function in template.yaml has CodeUri functions/{folder}/"
    return matches[0]


@pytest.mark.parametrize("event_file", sorted(EVENTS.glob("*.json")), ids=lambda p: p.stem)
def test_event_runs_through_its_handler(runtime: Runtime, event_file: Path) -> None:
    event = json.loads(event_file.read_text())
    function = function_for(runtime, event_file)
    if event_file.stem == "authorizer":
        # The example key does not exist: the authorizer refuses it the way API Gateway expects.
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            runtime.functions.invoke(function, event)
        return
    if event_file.stem == "task_runner":
        # The example execution does not exist: the runner refuses to act on it.
        with pytest.raises(Exception, match="has no record"):
            runtime.functions.invoke(function, event)
        return
    if event_file.stem == "console":
        # The console's page: static HTML, served with no authorizer.
        response = runtime.functions.invoke(function, event)
        assert response["statusCode"] == 200 and response["body"].startswith("<!doctype html>"), response
        return
    if "httpMethod" in event:
        response = runtime.functions.invoke(function, event)
        assert response["statusCode"] < 500, response
        assert json.loads(response["body"]) is not None
        return
    runtime.functions.invoke(function, event)


def test_every_function_has_an_event(runtime: Runtime) -> None:
    folders = {spec.code_uri.name for spec in runtime.template.functions.values()}
    assert folders <= {p.stem for p in EVENTS.glob("*.json")}
