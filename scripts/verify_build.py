"""``sam build``, then every function run from its built artifact against a moto server.

    python -m scripts.verify_build [--skip-build] [--build-dir DIR]     (make verify-build)

1. Finds the functions' Python (3.12: ``$LAMBDA_PYTHON``, PATH, pyenv, ``uv python find``) and
   puts that interpreter's directory first on PATH, as ``sam build`` needs (pyenv's shims do
   not work for it). Without 3.12 it builds for the Python it has, and says so (the
   documented fallback: the same artifacts for another runtime version).
2. Installs aws-sam-cli, pinned, into a tool venv under ``.venv/tools/`` and runs
   ``sam build --cached --parallel`` on a copy of template.yaml with absolute code paths (the
   layer's ``BuildMethod: makefile`` is checked: layers/core/Makefile builds it).
3. Checks the built layer: bytecode shipped, and no boto3/botocore/s3transfer (the runtime's)
   nor croniter/dateutil/six (imported by no function).
4. Starts a moto server (``ThreadedMotoServer`` on a free loopback port) with the template's
   table, and runs the seed's scenario through the template's routes and authorizer (the
   embedded runtime's API Gateway emulation): every function runs in its own process, from
   its built directory and the built layer only, with boto3 from a separate "runtime" venv and
   ``AWS_ENDPOINT_URL`` pointing at the server, X-Ray tracing on as deployed (segments go to a
   UDP socket here and are counted). Step Functions executions really run in the server's
   process and invoke the built task runner. Every function of the template must be invoked.

Exit status 0 when every check passed; 1 when one failed (what and why on stderr); 2 when
the tools cannot be had (no ``sam``, or the build fails).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from scripts import lambda_env

REPO = lambda_env.REPO
DEFAULT_BUILD_DIR = REPO / ".aws-sam" / "verify-build"
FORBIDDEN_IN_LAYER = ("boto3", "botocore", "s3transfer", "croniter", "dateutil", "six.py")
CUSTOM_TYPES = {
    "data-extraction": "orchestration-task-extract",
    "data-transformation": "orchestration-task-transform",
    "data-loading": "orchestration-task-load",
}

# Runs inside each function's process: what Lambda's Python runtime does around the handler.
BOOTSTRAP = r"""
import importlib, json, os, sys, time, traceback
protocol = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # the handler's own output (Powertools logs) goes to stderr
module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
started = time.perf_counter()
handler = getattr(importlib.import_module(module_name), function_name)
protocol.write(json.dumps({"initMs": (time.perf_counter() - started) * 1000}) + "\n")
protocol.flush()


class Context:
    def __init__(self, request):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = request["functionArn"]
        self.aws_request_id = request["requestId"]
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "verify-build"
        self._deadline = time.monotonic() + request["timeoutSeconds"]

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


for line in sys.stdin:
    request = json.loads(line)
    os.environ["_X_AMZN_TRACE_ID"] = request["traceId"]
    try:
        answer = {"result": handler(request["event"], Context(request))}
    except Exception as err:
        answer = {"errorType": type(err).__name__, "errorMessage": str(err), "trace": traceback.format_exc()}
    protocol.write(json.dumps(answer, default=str) + "\n")
    protocol.flush()
"""


class Failed(Exception):
    pass


class FunctionError(Exception):
    """The function raised: ``str()`` is its errorMessage, as API Gateway sees it."""


# -- the build -------------------------------------------------------------------------------------
def prepare_template(out: Path, python_version: str) -> tuple[Path, list[str]]:
    """template.yaml with absolute code paths (sam resolves them from the copy's folder)."""
    notes: list[str] = []
    text = (REPO / "template.yaml").read_text()

    def absolute(match: re.Match[str]) -> str:
        value = match.group(2).strip("\"'")
        return f"{match.group(1)}{(REPO / value).resolve()}/"

    text, count = re.subn(r"^(\s+(?:CodeUri|ContentUri):\s*)(\S+)\s*$", absolute, text, flags=re.M)
    if count == 0:
        raise Failed("template.yaml: no CodeUri/ContentUri found")
    layer = re.search(r"^  CoreLayer:\n(?:    .*\n|\s*\n)+", text, flags=re.M)
    if layer is None:
        raise Failed("template.yaml: no CoreLayer resource")
    block = layer.group(0)
    if "BuildMethod: makefile" not in block:
        raise Failed("template.yaml: CoreLayer must say BuildMethod: makefile (layers/core/Makefile)")
    if python_version != lambda_env.LAMBDA_PYTHON_VERSION:
        text = text.replace(f"python{lambda_env.LAMBDA_PYTHON_VERSION}", f"python{python_version}")
        notes.append(
            f"Python {lambda_env.LAMBDA_PYTHON_VERSION} not found: built for python{python_version} instead"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out, notes


def sam_build(python: Path, build_dir: Path) -> Path:
    sam = lambda_env.sam_cli()
    copy = build_dir.parent / "verify-template.yaml"
    template, notes = prepare_template(copy, lambda_env.python_version(python))
    for note in notes:
        print(f"note: {note}", flush=True)
    env = {
        **os.environ,
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
        "PYTHON": str(python),  # the layer's Makefile
    }
    started = time.monotonic()
    argv = [
        str(sam),
        "build",
        "--template-file",
        str(template),
        "--build-dir",
        str(build_dir),
        "--cache-dir",
        str(build_dir.parent / "verify-cache"),
        "--cached",
        "--parallel",
    ]
    proc = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise Failed(f"sam build failed (exit {proc.returncode})")
    print(f"sam build: {time.monotonic() - started:.0f} s into {build_dir}", flush=True)
    return build_dir / "template.yaml"


def check_layer(layer_python: Path, python_version: str) -> list[str]:
    problems = [f"the layer ships {name}" for name in FORBIDDEN_IN_LAYER if (layer_python / name).exists()]
    tag = f"cpython-{python_version.replace('.', '')}"
    sources = [p for p in layer_python.rglob("*.py") if "__pycache__" not in p.parts]
    missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").exists()]
    if not sources:
        problems.append("the layer holds no Python sources")
    if missing:
        problems.append(f"{len(missing)} of {len(sources)} modules have no {tag} bytecode, e.g. {missing[0]}")
    for required in ("orchestration_core", "aws_lambda_powertools", "pydantic", "aws_xray_sdk"):
        if not (layer_python / required).is_dir():
            problems.append(f"the layer lacks {required}")
    return problems


# -- the functions, each in its own process ----------------------------------------------------------
class FunctionProcess:
    """One execution environment of a built function (one invocation at a time)."""

    def __init__(self, argv: list[str], env: dict[str, str], log: IO[str]) -> None:
        self.proc = subprocess.Popen(
            argv, env=env, cwd="/", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
        )
        ready = self._read()
        self.init_ms = float(ready["initMs"])

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise Failed(f"function process exited ({self.proc.wait()}): see its log")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class BuiltFunctions:
    """The gateway's ``Functions``: invokes built functions in Lambda-like processes."""

    def __init__(
        self,
        template: Any,
        names: dict[str, str],
        runtime_python: Path,
        layer_python: Path,
        endpoint: str,
        xray_address: str,
        log_dir: Path,
    ) -> None:
        self.template = template
        self.specs = template.functions
        self.api_functions = {route.function for route in template.routes}
        self.runtime_python = runtime_python
        self.layer_python = layer_python
        self.log_dir = log_dir
        self.idle: dict[str, list[FunctionProcess]] = {}
        self.lock = threading.Lock()
        self.invocations: Counter[str] = Counter()
        self.init_ms: dict[str, float] = {}
        self.processes: list[FunctionProcess] = []
        self.base_env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_XRAY_DAEMON_ADDRESS": xray_address,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
        self.environments = {
            logical_id: {k: str(template.resolve(v, names)) for k, v in spec.environment.items()}
            for logical_id, spec in self.specs.items()
        }

    def _start(self, logical_id: str) -> FunctionProcess:
        spec = self.specs[logical_id]
        env = {
            **self.base_env,
            **self.environments[logical_id],
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(spec.code_uri),
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        }
        argv = lambda_env.child_command(self.runtime_python, [spec.code_uri, self.layer_python], BOOTSTRAP)
        log = (self.log_dir / f"{logical_id}.log").open("a")
        process = FunctionProcess(argv, env, log)
        with self.lock:
            self.processes.append(process)
            self.init_ms.setdefault(logical_id, process.init_ms)
        return process

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        with self.lock:
            pool = self.idle.setdefault(logical_id, [])
            process = pool.pop() if pool else None
            self.invocations[logical_id] += 1
        if process is None:
            process = self._start(logical_id)
        spec = self.specs[logical_id]
        root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
        trace = f"Root={root};Parent={secrets.token_hex(8)};Sampled=1"
        request = {
            "event": event,
            "requestId": str(uuid.uuid4()),
            "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{logical_id}",
            "timeoutSeconds": spec.timeout,
            "traceId": trace,
        }
        answer = process.invoke(request)
        with self.lock:
            self.idle[logical_id].append(process)
        if "errorMessage" in answer:
            raise FunctionError(answer["errorMessage"])
        return answer["result"]

    def close(self) -> None:
        for process in self.processes:
            process.close()


class XRaySink:
    """A UDP socket standing in for the X-Ray daemon: counts the segment documents received."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.documents = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if b'"trace_id"' in data:
                self.documents += 1

    def close(self) -> None:
        self._stop.set()
        self.thread.join()
        self.sock.close()


# -- the scenario ------------------------------------------------------------------------------------
def run_scenario(gateway: Any, api_key: str, stage: str, functions: BuiltFunctions) -> list[str]:
    """The seed's flow; returns what failed (empty: all good). Prints one line per call."""
    from orchestration_local.gateway import HttpRequest

    problems: list[str] = []

    def call(
        method: str, path: str, body: Any = None, expect: int = 200, query: str = "", quiet: bool = False
    ) -> Any:
        payload = b"" if body is None else json.dumps(body).encode()
        headers = [("Authorization", f"Bearer {api_key}"), ("Content-Type", "application/json")]
        response = gateway.handle(HttpRequest(method, path, query, headers, payload))
        text = response.body.decode()
        line = f"{method} /{stage}{path}{'?' + query if query else ''} -> {response.status}"
        if not quiet:
            print(f"  {line}", flush=True)
        if response.status != expect:
            problems.append(f"{line} (expected {expect}): {text[:500]}")
            return {}
        try:
            return json.loads(text) if text else {}
        except json.JSONDecodeError:
            return text

    for name, function in CUSTOM_TYPES.items():
        call("PUT", f"/task-types/{name}", {"functionArn": function})
    call("GET", "/task-types")
    call("GET", "/task-types/data-extraction")

    created = call(
        "POST",
        "/workflows",
        {
            "name": "Data Processing Pipeline",
            "tasks": [
                {"name": "extract", "type": "data-extraction"},
                {"name": "transform", "type": "data-transformation", "dependsOn": ["extract"]},
                {"name": "load", "type": "data-loading", "dependsOn": ["transform"]},
            ],
        },
        expect=201,
    )
    workflow_id = created.get("id", "wf_missing")
    call("GET", f"/workflows/{workflow_id}")
    call("PUT", f"/workflows/{workflow_id}", {"status": "active"})
    listed = call("GET", "/workflows", query="status=active")
    if workflow_id not in [w.get("id") for w in listed.get("workflows", [])]:
        problems.append(f"GET /workflows?status=active does not list {workflow_id}: {listed}")

    started = call("POST", f"/workflows/{workflow_id}/execute", {"parameters": {"rows": 3}}, expect=202)
    execution_id = started.get("executionId", "ex_missing")
    execution = wait_for_end(call, execution_id)
    if execution.get("status") != "completed":
        problems.append(f"execution {execution_id} ended {execution.get('status')}: {execution}")
    else:
        results = {t["name"]: t.get("result") for t in execution.get("tasks", [])}
        if results.get("load") != {"loaded": 3}:
            problems.append(f"execution {execution_id}: unexpected task results {results}")
    executions = call("GET", "/executions", query=f"workflowId={workflow_id}")
    if execution_id not in json.dumps(executions):
        problems.append(f"GET /executions?workflowId= does not list {execution_id}")

    # cancel and redrive: a run held in a wait task is cancelled, then redriven to completion
    held = call(
        "POST",
        "/workflows",
        {"name": "held", "tasks": [{"name": "hold", "type": "wait", "config": {"seconds": 3600}}]},
        expect=201,
    )
    held_run = call("POST", f"/workflows/{held.get('id')}/execute", {}, expect=202).get("executionId")
    call("POST", f"/executions/{held_run}/cancel")
    cancelled = wait_for_end(call, str(held_run))
    if cancelled.get("status") != "cancelled":
        problems.append(f"cancelled execution {held_run} is {cancelled.get('status')}")
    call("POST", f"/executions/{held_run}/redrive")
    call("POST", f"/executions/{held_run}/cancel")

    schedule = call(
        "POST",
        "/schedules",
        {"workflowId": workflow_id, "cronExpression": "30 2 * * MON-FRI", "timezone": "Europe/Berlin"},
        expect=201,
    )
    schedule_id = schedule.get("id", "sc_missing")
    call("GET", "/schedules")
    call("GET", f"/schedules/{schedule_id}")
    call("PUT", f"/schedules/{schedule_id}", {"cronExpression": "@daily"})
    triggered = call("POST", f"/schedules/{schedule_id}/trigger", expect=202)
    if triggered.get("executionId"):
        wait_for_end(call, str(triggered["executionId"]))
    call(
        "POST",
        f"/schedules/{schedule_id}/backfill",
        {"startAt": "2026-11-16T00:00:00Z", "endAt": "2026-11-18T00:00:00Z"},
        expect=202,
    )
    tick = functions.invoke(
        dispatcher(functions),
        {"source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-11-20T00:00:00Z"},
    )
    print(f"  dispatcher tick -> {json.dumps(tick)[:200]}", flush=True)
    call("DELETE", f"/schedules/{schedule_id}")
    call("GET", f"/schedules/{schedule_id}", expect=404)

    console = gateway.handle(HttpRequest("GET", "/console", "", [], b""))
    print(f"  GET /{stage}/console -> {console.status}", flush=True)
    if console.status != 200:
        problems.append(f"GET /console -> {console.status}")
    refused = gateway.handle(HttpRequest("GET", "/workflows", "", [("Authorization", "Bearer nope")], b""))
    print(f"  GET /{stage}/workflows with a wrong key -> {refused.status}", flush=True)
    if refused.status != 401:
        problems.append(f"a wrong key got {refused.status}, not 401")

    call("DELETE", "/task-types/data-loading")
    call("DELETE", f"/workflows/{workflow_id}")
    call("GET", f"/workflows/{workflow_id}", expect=404)
    return problems


def dispatcher(functions: BuiltFunctions) -> str:
    for logical_id, _ in functions.template.schedules:
        return str(logical_id)
    raise Failed("the template has no scheduled function (the dispatcher)")


def wait_for_end(call: Callable[..., Any], execution_id: str, seconds: float = 120) -> dict[str, Any]:
    """Polls GET /executions/{id} until it ends; a deadline that fails, never a fixed wait."""
    deadline = time.monotonic() + seconds
    execution: dict[str, Any] = call("GET", f"/executions/{execution_id}")
    while execution.get("status") not in {"completed", "failed", "cancelled"}:
        if time.monotonic() > deadline:
            return {**execution, "status": f"still {execution.get('status')} after {seconds:.0f} s"}
        time.sleep(0.2)
        execution = call("GET", f"/executions/{execution_id}", quiet=True)
    return execution


# -- main ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.verify_build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR)
    parser.add_argument("--skip-build", action="store_true", help="use what --build-dir already holds")
    args = parser.parse_args(argv)

    python = lambda_env.find_python()
    if python is None:
        python = Path(sys.executable)
    version = lambda_env.python_version(python)
    print(f"functions' Python: {python} ({version})", flush=True)
    try:
        built = args.build_dir / "template.yaml" if args.skip_build else sam_build(python, args.build_dir)
    except (Failed, subprocess.CalledProcessError) as err:
        print(f"verify-build: cannot build: {err}", file=sys.stderr)
        return 2
    return verify(built, python)


def verify(built_template: Path, python: Path) -> int:
    from orchestration_local import aws
    from orchestration_local.gateway import Gateway
    from orchestration_local.runtime import local_names
    from orchestration_local.template import load_template

    version = lambda_env.python_version(python)
    template = load_template(built_template)
    layer_python = built_template.parent / "CoreLayer" / "python"
    problems = check_layer(layer_python, version)
    runtime_python = lambda_env.runtime_venv(python)

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    mock = aws.start_moto()  # this process's boto3 and Step Functions' invokes: the same backends
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    sink = XRaySink()
    log_dir = built_template.parent / "verify-logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    names = local_names(template)
    functions = BuiltFunctions(
        template, names, runtime_python, layer_python, f"http://{host}:{port}", sink.address, log_dir
    )
    try:
        aws.create_tables(template.tables, names)
        for logical_id in template.functions:
            aws.register_lambda(logical_id, functools.partial(functions.invoke, logical_id))
        for function in CUSTOM_TYPES.values():
            aws.register_lambda(function, custom_task)
        aws.create_lambda_functions([*template.functions, *CUSTOM_TYPES.values()])
        os.environ["TABLE_NAME"] = functions.environments[next(iter(functions.environments))]["TABLE_NAME"]
        from orchestration_core.services import key_store

        api_key, _ = key_store().create("verify", "verify-build")
        print(f"moto server at http://{host}:{port}; functions from {built_template.parent}", flush=True)
        # The gateway only calls invoke(logical_id, event), which BuiltFunctions provides.
        gateway = Gateway(template, functions)  # type: ignore[arg-type]
        problems += run_scenario(gateway, api_key, template.stage, functions)
    except Failed as err:
        problems.append(str(err))
    finally:
        functions.close()
        server.stop()
        mock.stop()
        sink.close()

    never = sorted(set(template.functions) - set(functions.invocations))
    if never:
        problems.append(f"never invoked: {', '.join(never)}")
    if sink.documents == 0:
        problems.append("no X-Ray segment was sent (tracing is on in the template)")
    print()
    print(
        f"{len(functions.invocations)} of {len(template.functions)} functions invoked "
        "from their built artifacts"
    )
    for logical_id in sorted(functions.invocations):
        init = functions.init_ms.get(logical_id, float("nan"))
        print(f"  {logical_id:<34} {functions.invocations[logical_id]:3d} invocations, init {init:6.0f} ms")
    print(f"X-Ray segment documents received: {sink.documents}")
    if problems:
        print(f"\nverify-build FAILED ({len(problems)}); function logs in {log_dir}", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("verify-build: OK")
    return 0


def custom_task(event: dict[str, Any]) -> dict[str, Any]:
    """The seed's ETL task types: what a registered Lambda function would return."""
    rows = int((event.get("parameters") or {}).get("rows", 0))
    task = (event.get("context") or {}).get("task") or event.get("task")
    if "transform" in (event.get("inputs") or {}):
        return {"loaded": rows}
    if "extract" in (event.get("inputs") or {}):
        return {"transformed": rows}
    return {"extracted": rows, "task": task}


if __name__ == "__main__":
    raise SystemExit(main())
