"""The embedded runtime runs every function in one process, on many threads: each invocation
must still see its own function's settings (the template's Globals and its own Variables) and
log with its own Lambda context, as it would in its own Lambda environment."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from orchestration_core.shared.config import get_settings

from orchestration_local.lambdas import Functions
from orchestration_local.template import FunctionSpec, Template
from tests.local_http import Route, serve

SERVICE = "isolation-probe"
RUNNER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:Runner"
DEADLINE = 10.0

_HANDLER = """
import threading

from aws_lambda_powertools import Logger
from orchestration_core.shared.config import get_settings

logger = Logger(service="{service}")
entered = threading.Event()
proceed = threading.Event()


@logger.inject_lambda_context(log_event=False)
def handler(event, context):
    if "correlation" in event:
        logger.set_correlation_id(event["correlation"])
    if "key" in event:
        logger.thread_safe_append_keys(probe_key=event["key"])
    seen = {{"before": get_settings().task_runner_arn}}
    logger.info("{name} before")
    if event.get("hold"):
        entered.set()
        if not proceed.wait({deadline}):
            raise TimeoutError("never told to proceed")
    logger.info("{name} after")
    seen["after"] = get_settings().task_runner_arn
    seen["types"] = get_settings().task_types
    seen["table"] = get_settings().table_name
    return seen
"""


def _loaded(template: Template, saved: dict[str, str]) -> Iterator[Functions]:
    """The template's functions, loaded; afterwards the environment as it was (``saved``)."""
    try:
        loaded = Functions(template, {})
        loaded.load_all()
        yield loaded
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()  # type: ignore[attr-defined]


@pytest.fixture
def functions(tmp_path: Path) -> Iterator[Functions]:
    saved = dict(os.environ)
    for name in ("alpha", "beta"):
        (tmp_path / f"{name}.py").write_text(_HANDLER.format(service=SERVICE, name=name, deadline=DEADLINE))
    shared = {"TABLE_NAME": "probe-table", "POWERTOOLS_SERVICE_NAME": SERVICE}
    template = Template(root=tmp_path, parameters={"TaskTypes": '{"custom": "orchestration-task-x"}'})
    template.functions = {
        "Alpha": FunctionSpec(
            "Alpha",
            tmp_path,
            "alpha.handler",
            {**shared, "TASK_RUNNER_ARN": RUNNER_ARN, "TASK_TYPES": {"Ref": "TaskTypes"}},
            10,
            128,
        ),
        "Beta": FunctionSpec("Beta", tmp_path, "beta.handler", dict(shared), 10, 128),
    }
    yield from _loaded(template, saved)


@pytest.fixture
def lines(functions: Functions) -> Iterator[list[dict[str, Any]]]:
    """Every line the probe functions log, as the Powertools formatter writes it."""
    probe = logging.getLogger(SERVICE)
    (powertools,) = [h for h in probe.handlers if h.formatter is not None]
    formatter = powertools.formatter
    assert formatter is not None
    captured: list[dict[str, Any]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(json.loads(formatter.format(record)))

    handler = Capture()
    probe.addHandler(handler)
    try:
        yield captured
    finally:
        probe.removeHandler(handler)


def _line(lines: list[dict[str, Any]], message: str) -> dict[str, Any]:
    (found,) = [line for line in lines if line["message"] == message]
    return found


def _hold_alpha_while_beta_runs(functions: Functions) -> tuple[dict[str, Any], dict[str, Any]]:
    """Alpha starts and waits inside its handler; Beta runs to the end; then Alpha finishes."""
    alpha = functions.modules["Alpha"]
    results: dict[str, Any] = {}

    def run_alpha() -> None:
        try:
            results["alpha"] = functions.invoke("Alpha", {"hold": True})
        except BaseException as err:
            results["alpha"] = err
            alpha.entered.set()

    thread = threading.Thread(target=run_alpha)
    thread.start()
    try:
        assert alpha.entered.wait(DEADLINE), "Alpha never started"
        beta = functions.invoke("Beta", {})
    finally:
        alpha.proceed.set()
        thread.join(DEADLINE)
    assert not thread.is_alive(), "Alpha never finished"
    assert isinstance(results["alpha"], dict), results["alpha"]
    return results["alpha"], beta


def test_each_function_sees_its_own_settings_while_others_run(functions: Functions) -> None:
    alpha, beta = _hold_alpha_while_beta_runs(functions)
    assert alpha == {
        "before": RUNNER_ARN,
        "after": RUNNER_ARN,
        "types": {"custom": "orchestration-task-x"},
        "table": "probe-table",
    }
    # Beta was given neither TASK_RUNNER_ARN nor TASK_TYPES: it sees neither, as on Lambda.
    assert beta == {"before": "", "after": "", "types": {}, "table": "probe-table"}


def test_a_variable_changed_in_the_process_reaches_only_the_functions_given_it(
    functions: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a test changes a setting (os.environ) for the function under test
    monkeypatch.setenv("TASK_RUNNER_ARN", "arn:aws:lambda:us-east-1:123456789012:function:Other")
    assert functions.invoke("Alpha", {})["after"].endswith(":function:Other")
    assert functions.invoke("Beta", {})["after"] == ""  # never given TASK_RUNNER_ARN
    monkeypatch.delenv("TASK_RUNNER_ARN")
    assert functions.invoke("Alpha", {})["after"] == ""
    monkeypatch.undo()
    assert functions.invoke("Alpha", {})["after"] == RUNNER_ARN


def test_log_lines_carry_the_context_of_the_invocation_that_wrote_them(
    functions: Functions, lines: list[dict[str, Any]]
) -> None:
    _hold_alpha_while_beta_runs(functions)
    alpha_before, alpha_after, beta = (_line(lines, m) for m in ("alpha before", "alpha after", "beta after"))
    assert beta["function_name"] == "Beta"
    assert alpha_before["function_name"] == alpha_after["function_name"] == "Alpha"
    assert alpha_after["function_request_id"] == alpha_before["function_request_id"]
    assert alpha_after["function_request_id"] != beta["function_request_id"]


def test_keys_one_invocation_adds_do_not_reach_the_next(
    functions: Functions, lines: list[dict[str, Any]]
) -> None:
    functions.invoke("Alpha", {"correlation": "request-of-alpha", "key": "alpha's"})
    functions.invoke("Beta", {})  # on the same thread, after it
    alpha, beta = _line(lines, "alpha after"), _line(lines, "beta after")
    assert alpha["correlation_id"] == "request-of-alpha" and alpha["probe_key"] == "alpha's"
    assert "correlation_id" not in beta and "probe_key" not in beta, beta
    assert beta["function_name"] == "Beta"


# -- settings the task types read: the task function prefix and the http tasks' allow-list --------
_TASKS_HANDLER = """
from orchestration_core.tasktypes.registry import TaskError, run_builtin, this_deployment


def handler(event, context):
    try:
        reached = run_builtin("http", {"url": event["url"], "timeoutSeconds": 5}, {})["status"]
    except TaskError as err:
        reached = err.error
    return {"prefix": this_deployment(None).prefix, "http": reached}
"""


@pytest.fixture
def task_functions(tmp_path: Path) -> Iterator[Functions]:
    """Runner is given its own task function prefix and an allow-list with this machine's
    loopback; Other is given neither."""
    saved = dict(os.environ)
    (tmp_path / "tasks.py").write_text(_TASKS_HANDLER)
    shared = {"TABLE_NAME": "probe-table"}
    runner = {**shared, "TASK_FUNCTION_PREFIX": "team-a-", "HTTP_TASK_ALLOWED_CIDRS": "127.0.0.1/32"}
    template = Template(root=tmp_path, parameters={})
    template.functions = {
        "Runner": FunctionSpec("Runner", tmp_path, "tasks.handler", runner, 10, 128),
        "Other": FunctionSpec("Other", tmp_path, "tasks.handler", dict(shared), 10, 128),
    }
    yield from _loaded(template, saved)


def test_the_task_types_read_their_own_function_s_prefix_and_allow_list(task_functions: Functions) -> None:
    # os.environ holds both functions' variables merged: Runner's prefix and allow-list too
    assert os.environ["HTTP_TASK_ALLOWED_CIDRS"] == "127.0.0.1/32"
    with serve({"/": Route(200)}) as server:
        runner = task_functions.invoke("Runner", {"url": server.url("/")})
        other = task_functions.invoke("Other", {"url": server.url("/")})
        assert len(server.seen) == 1  # Other's request never connected
    # Runner reaches this machine and names functions with its prefix, as it was given
    assert runner == {"prefix": "team-a-", "http": 200}
    # Other was given neither: the template's default prefix, and no address allowed (as on Lambda)
    assert other == {"prefix": "orchestration-task-", "http": "HttpAddressRefused"}
