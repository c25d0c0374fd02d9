"""The embedded runtime started in this process (``Runtime``), driven through the API Gateway
emulation without HTTP; the task runner Lambda timed and its DynamoDB requests counted; what
Step Functions (moto) recorded of an execution."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

CUSTOM_FUNCTIONS = {"sleep": "orchestration-task-sleep"}
TERMINAL = {"completed", "failed", "cancelled"}
RUNNER = "TaskRunnerFunction"
HAND_FUNCTION = "bench-engine-trivial"


def _sleep_task(task: dict[str, Any]) -> dict[str, Any]:
    time.sleep(float(task["config"].get("seconds", 0)))
    return {"slept": task["config"].get("seconds", 0)}


class Api:
    def __init__(self, runtime: Any, key: str) -> None:
        from orchestration_local.gateway import HttpRequest

        self.runtime = runtime
        self.key = key
        self.request = HttpRequest

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = [("Content-Type", "application/json"), ("Authorization", f"Bearer {self.key}")]
        payload = json.dumps(body).encode() if body is not None else b""
        resp = self.runtime.gateway.handle(self.request(method, path, "", headers, payload))
        return resp.status, (json.loads(resp.body) if resp.body else None)

    def create(self, name: str, tasks: list[dict[str, Any]]) -> str:
        status, wf = self.call("POST", "/workflows", {"name": name, "tasks": tasks})
        if status != 201:
            raise RuntimeError(f"POST /workflows: {status} {wf}")
        return str(wf["id"])

    def execute(self, workflow_id: str) -> str:
        status, started = self.call("POST", f"/workflows/{workflow_id}/execute", {})
        if status != 202:
            raise RuntimeError(f"POST execute: {status} {started}")
        return str(started["executionId"])

    def wait(self, execution_id: str, poll: float, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.call("GET", f"/executions/{execution_id}")
            if status != 200:
                raise RuntimeError(f"GET execution: {status} {body}")
            if body["status"] in TERMINAL:
                return dict(body)
            if time.monotonic() > deadline:
                raise RuntimeError(f"execution {execution_id} still {body['status']} after {timeout} s")
            time.sleep(poll)


class RunnerTimer:
    """Wraps the task runner's in-process Lambda: invocations, time inside it, and the DynamoDB
    requests it makes (seen by the embedded runtime's DynamoDB observer, on the runner's own
    thread)."""

    def __init__(self, target: Callable[[Any], Any]) -> None:
        self.target = target
        self.lock = threading.Lock()
        self.local = threading.local()
        self.calls = 0
        self.seconds = 0.0
        self.dynamodb: dict[str, int] = {}
        self.dynamodb_seconds = 0.0

    def __call__(self, event: Any) -> Any:
        start = time.perf_counter()
        self.local.inside = True
        try:
            return self.target(event)
        finally:
            self.local.inside = False
            elapsed = time.perf_counter() - start
            with self.lock:
                self.calls += 1
                self.seconds += elapsed

    def install_dynamodb_counter(self) -> Callable[[], None]:
        """Count the runner's DynamoDB requests (those made on a thread while it is inside the
        runner); returns the function that uninstalls it."""
        from orchestration_local.aws import add_dynamodb_observer

        def observe(action: str, seconds: float) -> None:
            if not getattr(self.local, "inside", False):
                return
            with self.lock:
                self.dynamodb[action] = self.dynamodb.get(action, 0) + 1
                self.dynamodb_seconds += seconds

        return add_dynamodb_observer(observe)

    def reset(self) -> None:
        with self.lock:
            self.calls, self.seconds = 0, 0.0
            self.dynamodb, self.dynamodb_seconds = {}, 0.0


def start_runtime(workdir: Path) -> tuple[Any, Api, RunnerTimer]:
    from orchestration_local import aws
    from orchestration_local.runtime import Runtime

    runtime = Runtime(workdir, persist=False, tasks={"sleep": _sleep_task})
    timer = RunnerTimer(partial(runtime.functions.invoke, RUNNER))
    aws.register_lambda(RUNNER, timer)  # this process only: count and time runner invocations
    aws.register_lambda(HAND_FUNCTION, lambda event: event)
    aws.create_lambda_functions([HAND_FUNCTION])
    key, _ = runtime.key_store().create(f"bench-{uuid.uuid4().hex[:8]}", "bench/engine.py")
    return runtime, Api(runtime, key), timer


def ts(text: str) -> float:
    """An ISO timestamp of a record as seconds since the epoch."""
    from orchestration_core.shared.clock import parse_iso

    return parse_iso(text).timestamp()


def history_events(sfn: Any, execution_arn: str) -> int:
    count, token = 0, None
    while True:
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        count += len(page["events"])
        token = page.get("nextToken")
        if not token:
            return count


def engine_execution_arn(sfn: Any, execution_id: str) -> str | None:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if not machine["name"].startswith("orch-"):
                continue
            arn = machine["stateMachineArn"].replace(":stateMachine:", ":execution:") + f":{execution_id}"
            try:
                sfn.describe_execution(executionArn=arn)
            except sfn.exceptions.ExecutionDoesNotExist:
                continue
            return str(arn)
    return None
