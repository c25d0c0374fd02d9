"""http tasks on the embedded runtime: loopback is allowed by default (the developer's machine), a
redirect to the metadata address or any other refused address fails the task with
``HttpAddressRefused`` naming it, and with the allow-list emptied loopback is refused too."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from orchestration_core.tasktypes.netguard import LOCAL_ALLOWED_CIDRS

from tests.integration.conftest import Api, run
from tests.local_http import Route, serve

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


def _task(execution: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in execution["tasks"] if t["name"] == name)


def _error(task: dict[str, Any]) -> dict[str, Any]:
    error = task["error"]
    return json.loads(error) if isinstance(error, str) else dict(error)


def test_the_embedded_runtime_allows_loopback_by_default() -> None:
    assert os.environ["HTTP_TASK_ALLOWED_CIDRS"] == LOCAL_ALLOWED_CIDRS


def test_a_redirect_to_the_metadata_address_fails_the_task_naming_it(api: Api) -> None:
    # Given a server on this machine that answers /ok and redirects /hop to the metadata address
    routes = {
        "/ok": Route(200, {"Content-Type": "application/json"}, b'{"fine": true}'),
        "/hop": Route(302, {"Location": METADATA}),
    }
    with serve(routes) as server:
        # When a workflow calls /ok, then /hop
        ended = run(
            api,
            [
                {"name": "ok", "type": "http", "config": {"url": server.url("/ok")}},
                {"name": "hop", "type": "http", "config": {"url": server.url("/hop")}, "dependsOn": ["ok"]},
            ],
        )
        seen = [s.path for s in server.seen]
    # Then the loopback call ran (the embedded runtime's default), and the redirect was refused
    # before any connection to the metadata address: the task failed, naming the host and why
    assert ended["status"] == "failed", ended
    ok, hop = _task(ended, "ok"), _task(ended, "hop")
    assert ok["status"] == "completed" and ok["result"]["body"] == {"fine": True}
    assert hop["status"] == "failed" and hop["attempts"] == 1
    error = _error(hop)
    assert error["error"] == "HttpAddressRefused", error
    assert f"refused to connect to {METADATA} (redirect 1 of the request)" in error["cause"]
    assert "169.254.169.254 is a link-local address (the instance metadata service)" in error["cause"]
    assert seen == ["/ok", "/hop"]


def test_with_the_allow_list_emptied_loopback_is_refused(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the runner's allow-list is empty, as on AWS by default
    monkeypatch.setenv("HTTP_TASK_ALLOWED_CIDRS", "")
    with serve({"/": Route(200)}) as server:
        # When a task calls a server on this machine
        ended = run(api, [{"name": "local", "type": "http", "config": {"url": server.url("/")}}])
        # Then it never connected, and the task failed with the refusal
        assert server.seen == []
    error = _error(_task(ended, "local"))
    assert ended["status"] == "failed" and error["error"] == "HttpAddressRefused", ended
    assert "127.0.0.1 is a loopback address" in error["cause"]


def test_a_refused_address_is_not_retried(api: Api) -> None:
    with serve({"/hop": Route(302, {"Location": METADATA})}) as server:
        config = {"url": server.url("/hop"), "retry": {"maxAttempts": 2, "intervalSeconds": 1}}
        ended = run(api, [{"name": "hop", "type": "http", "config": config}])
        hops = len(server.seen)
    # (the task's recorded attempts are the compiled maximum whatever the error: not checked here)
    assert _error(_task(ended, "hop"))["error"] == "HttpAddressRefused" and hops == 1
