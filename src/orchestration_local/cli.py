"""`orchestration`: run the embedded runtime and manage API keys."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DATA_DIR = ".orchestration"
DEFAULT_URL = "http://127.0.0.1:3000/v1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="orchestration",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="serve the API locally (no Docker, no AWS account)")
    dev.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    dev.add_argument(
        "--port", type=int, default=3000, help="port to listen on (default 3000; 0 picks a free one)"
    )
    dev.add_argument("--api-key", help="accept this API key (tenant 'default') and print it")
    dev.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="where stored data is kept between runs")
    dev.add_argument("--template", help="template.yaml to serve (default: this checkout's)")
    dev.add_argument("--quiet", action="store_true", help="no access log")
    dev.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=float(os.environ.get("ORCHESTRATION_IDLE_TIMEOUT", "60")),
        metavar="SECONDS",
        help="close a connection that waits this long for a request (default 60)",
    )
    dev.add_argument(
        "--read-timeout",
        type=_seconds,
        default=float(os.environ.get("ORCHESTRATION_READ_TIMEOUT", "30")),
        metavar="SECONDS",
        help="answer 408 and close when a started request stalls this long (default 30)",
    )
    dev.add_argument(
        "--tasks",
        metavar="MODULE",
        help="module name or .py path whose TASKS dict maps custom task types to callables",
    )
    dev.add_argument("--no-persist", action="store_true", help=argparse.SUPPRESS)  # benchmarks: no journal
    dev.set_defaults(func=_dev)

    repair = sub.add_parser(
        "repair", help="make a damaged data directory start again (keeps what precedes the damage)"
    )
    repair.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="the embedded runtime's data directory")
    repair.set_defaults(func=_repair)

    spec = sub.add_parser("openapi", help="print the OpenAPI document generated from the route code")
    spec.set_defaults(func=_openapi)

    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    for name in ("create", "list", "revoke"):
        p = keys_sub.add_parser(name)
        p.add_argument(
            "--url",
            help=f"the embedded runtime: its API URL or root (default $ORCHESTRATION_URL or {DEFAULT_URL})",
        )
        p.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="the embedded runtime's data directory")
        p.add_argument("--stack", help="manage a deployed stack's keys instead (uses your AWS credentials)")
        if name in {"create", "list"}:
            p.add_argument(
                "--tenant",
                default=None if name == "list" else "default",
                help="the tenant the key belongs to" + (" (default: every tenant)" if name == "list" else ""),
            )
        if name == "create":
            p.add_argument("--name", default="", help="a label for the key")
        if name == "revoke":
            p.add_argument("key_id")
    keys.set_defaults(func=_keys)

    _api_commands(sub)

    args = parser.parse_args(argv)
    return _guarded(args)


def _guarded(args: argparse.Namespace) -> int:
    """Runs the command; a user error is one line on stderr and an exit code, never a traceback."""
    from orchestration_local.client import ApiError, CliError

    try:
        result: int = args.func(args)
        sys.stdout.flush()
        return result
    except ApiError as err:
        print(err, file=sys.stderr)
        return 1
    except CliError as err:
        print(f"orchestration: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`… | head`): say nothing more, and let exit not flush into the pipe.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("orchestration")
    except PackageNotFoundError:
        return "unknown"


_EPILOG = """\
API commands (workflows, run, executions, schedules, task-types) talk to --url, the API URL with its
stage (default $ORCHESTRATION_URL or http://127.0.0.1:3000/v1), with the key from
$ORCHESTRATION_API_KEY or, locally, the one `orchestration dev` keeps in --data-dir.
Exit codes: 0 done, 1 failed (an API error; a watched run that failed), 2 usage, 3 a watched
run that was cancelled, 130 interrupted. Each command has its own --help."""


def _dev(args: argparse.Namespace) -> int:
    from orchestration_local.durability import StoreCorrupt
    from orchestration_local.runtime import Runtime
    from orchestration_local.server import Server
    from orchestration_local.ticker import Ticker

    busy = _port_in_use(args.host, args.port)
    if busy:
        print(busy, file=sys.stderr)
        return 2
    tasks = load_tasks(args.tasks) if args.tasks else None
    try:
        runtime = Runtime(
            Path(args.data_dir).resolve(),
            Path(args.template) if args.template else None,
            persist=not args.no_persist,
            tasks=tasks,
        )
    except StoreCorrupt as err:
        print(
            f"Cannot start: {err}. Run `orchestration repair --data-dir {args.data_dir}` to keep every "
            "record before the damage and move the damaged file aside.",
            file=sys.stderr,
        )
        return 2
    try:
        api_key = runtime.ensure_dev_key(args.api_key)
    except ValueError as err:  # a revoked key or another tenant's: never revived or moved
        runtime.close()
        print(f"Cannot start: {err}.", file=sys.stderr)
        return 2
    try:
        server = Server(
            (args.host, args.port),
            runtime,
            quiet=args.quiet,
            idle_timeout=args.idle_timeout,
            read_timeout=args.read_timeout,
        )
    except OSError as err:  # taken between the check and now, or a host this machine does not have
        runtime.close()
        print(_cannot_listen(args.host, args.port, err), file=sys.stderr)
        return 2
    ticker = Ticker(runtime).start()  # the dispatcher's EventBridge rule, ticking every minute
    stop = threading.Event()

    def shutdown(*_: Any) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    print(f"Orchestration API (embedded runtime) at {server.url}", flush=True)
    if runtime.dev_key_notice:
        print(runtime.dev_key_notice, flush=True)
    print(f"API key (tenant 'default'): {api_key}", flush=True)
    print(f"Data directory: {runtime.data_dir}", flush=True)
    if not runtime.persistence()["ok"]:
        print(
            f"WARNING: persistence degraded, writes answer 503: {runtime.persistence()['error']}", flush=True
        )
    if runtime.resumed:
        print(f"Resumed {len(runtime.resumed)} execution(s) that were running at the last stop.", flush=True)
    if tasks:
        print(f"Custom task types: {', '.join(sorted(tasks))}", flush=True)
    print(f'Try: curl -H "Authorization: Bearer {api_key}" {server.url}/workflows', flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        ticker.stop()
        server.server_close()
        runtime.close()
        print("Stopped; data saved.", flush=True)
    return 0


def _port_in_use(host: str, port: int) -> str | None:
    """A one-line reason when (host, port) cannot be listened on; checked before the slow start."""
    if port == 0:
        return None
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:
        return _cannot_listen(host, port, err)
    return None


def _cannot_listen(host: str, port: int, err: OSError) -> str:
    if err.errno == errno.EADDRINUSE:
        return (
            f"Cannot start: port {port} on {host} is in use. Choose another with --port (0 picks a free one)."
        )
    return f"Cannot start: cannot listen on {host}:{port}: {err.strerror or err}. Check --host and --port."


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return value


def _repair(args: argparse.Namespace) -> int:
    from orchestration_local.durability import repair

    directory = Path(args.data_dir) / "dynamodb"
    try:
        lines = repair(directory)
    except OSError as err:
        print(f"repair failed: {err}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


def _api_commands(sub: Any) -> None:
    """Commands that call the API (embedded runtime or deployed: --url, ORCHESTRATION_API_KEY)."""

    def api_parser(parent: Any, name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_text)
        p.add_argument("--url", help=f"API base URL (default $ORCHESTRATION_URL or {DEFAULT_URL})")
        p.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="where `orchestration dev` keeps its key")
        return p

    workflows = sub.add_parser("workflows", help="create and list workflows").add_subparsers(
        dest="workflows_command", required=True
    )
    create = api_parser(workflows, "create", "create a workflow from a JSON file")
    create.add_argument("-f", "--file", required=True, help="JSON body of POST /workflows ('-' for stdin)")
    create.set_defaults(func=_workflows_create)
    wf_list = api_parser(workflows, "list", "list workflows")
    wf_list.add_argument("--status", help="only draft, active or inactive workflows")
    wf_list.set_defaults(func=lambda a: _get(a, "/workflows", {"status": a.status}))

    run = api_parser(sub, "run", "execute a workflow")
    run.add_argument("workflow_id")
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter (repeatable); VALUE is parsed as JSON when it is JSON, else kept as text",
    )
    run.add_argument("--idempotency-key", help="the same key within 24 h returns the same execution")
    run.add_argument("--watch", action="store_true", help="show live progress; exit 1 if it fails")
    run.set_defaults(func=_run)

    executions = sub.add_parser("executions", help="inspect executions").add_subparsers(
        dest="executions_command", required=True
    )
    ex_get = api_parser(executions, "get", "one execution with its tasks")
    ex_get.add_argument("execution_id")
    ex_get.set_defaults(func=lambda a: _get(a, f"/executions/{a.execution_id}", None))
    ex_list = api_parser(executions, "list", "list executions")
    ex_list.add_argument("--workflow-id", help="only this workflow's executions")
    ex_list.add_argument("--status", help="only pending, running, completed, failed or cancelled ones")
    ex_list.set_defaults(
        func=lambda a: _get(a, "/executions", {"workflowId": a.workflow_id, "status": a.status})
    )
    ex_watch = api_parser(executions, "watch", "live per-task progress until the execution ends")
    ex_watch.add_argument("execution_id")
    ex_watch.set_defaults(func=_watch)
    ex_cancel = api_parser(executions, "cancel", "stop a running execution")
    ex_cancel.add_argument("execution_id")
    ex_cancel.set_defaults(func=lambda a: _post(a, f"/executions/{a.execution_id}/cancel"))
    ex_redrive = api_parser(
        executions, "redrive", "run a failed or cancelled execution again from where it stopped"
    )
    ex_redrive.add_argument("execution_id")
    ex_redrive.add_argument("--watch", action="store_true", help="show live progress; exit 1 if it fails")
    ex_redrive.set_defaults(func=_redrive)

    task_types = sub.add_parser("task-types", help="list the task types a workflow can use").add_subparsers(
        dest="task_types_command", required=True
    )
    tt_list = api_parser(task_types, "list", "built-in, deployment and registered task types, by name")
    tt_list.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    tt_list.set_defaults(func=_task_types_list)

    schedules = sub.add_parser(
        "schedules", help="create, inspect, pause, trigger and backfill schedules"
    ).add_subparsers(dest="schedules_command", required=True)
    sc_list = api_parser(schedules, "list", "list schedules")
    sc_list.add_argument("--workflow-id", help="only this workflow's schedules")
    sc_list.set_defaults(func=lambda a: _get(a, "/schedules", {"workflowId": a.workflow_id}))
    from orchestration_local import schedule_cli

    schedule_cli.add_commands(schedules, api_parser)


def _task_types_list(args: argparse.Namespace) -> int:
    from orchestration_local.client import client_from, emit

    listed = client_from(args.url, args.data_dir).call("GET", "/task-types")
    if args.json:
        emit(listed)
        return 0
    rows = [(t["name"], t["source"], t["functionArn"] or t["description"]) for t in listed["taskTypes"]]
    width = max((len(name) for name, _, _ in rows), default=4)
    for name, source, what in rows:
        print(f"{name:<{width}}  {source:<10}  {what}")
    return 0


def _get(args: argparse.Namespace, path: str, params: dict[str, Any] | None) -> int:
    from orchestration_local.client import ApiError, client_from, emit

    try:
        emit(client_from(args.url, args.data_dir).call("GET", path, params=params))
    except ApiError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


def _post(args: argparse.Namespace, path: str) -> int:
    from orchestration_local.client import ApiError, client_from, emit

    try:
        emit(client_from(args.url, args.data_dir).call("POST", path, {}))
    except ApiError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


def _redrive(args: argparse.Namespace) -> int:
    from orchestration_local.client import ApiError, client_from, emit, exit_code, watch

    client = client_from(args.url, args.data_dir)
    try:
        redriven = client.call("POST", f"/executions/{args.execution_id}/redrive", {})
        print(f"redriven {redriven['id']} (redrive {redriven['redriveCount']})", file=sys.stderr)
        if not args.watch:
            emit(redriven)
            return 0
        try:
            return exit_code(watch(client, redriven["id"]))
        except KeyboardInterrupt:
            return _watch_interrupted(redriven["id"])
    except ApiError as err:
        print(err, file=sys.stderr)
        return 1


def _workflows_create(args: argparse.Namespace) -> int:
    from orchestration_local.client import ApiError, client_from, emit

    try:
        emit(client_from(args.url, args.data_dir).call("POST", "/workflows", _read_json(args.file)))
    except ApiError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


def _read_json(name: str) -> Any:
    """The JSON document in a file ('-' for stdin), or a one-line CliError saying what is wrong."""
    from orchestration_local.client import CliError

    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise CliError(f"cannot read {name}: {reason}", 2) from None
    try:
        return json.loads(text)
    except ValueError as err:
        raise CliError(f"{name} is not valid JSON: {err}", 2) from None


def _watch_interrupted(execution_id: str) -> int:
    print(
        f"\nStopped watching. The execution {execution_id} goes on; watch it again with:\n"
        f"  orchestration executions watch {execution_id}",
        file=sys.stderr,
    )
    return 130


def _run(args: argparse.Namespace) -> int:
    from orchestration_local.client import ApiError, client_from, exit_code, parse_params, watch

    client = client_from(args.url, args.data_dir)
    body = {"parameters": parse_params(args.param)}
    try:
        extra = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
        started = client.call("POST", f"/workflows/{args.workflow_id}/execute", body, headers=extra)
        print(f"started {started['executionId']}", file=sys.stderr)
        if not args.watch:
            print(json.dumps(started, indent=2))
            return 0
        try:
            return exit_code(watch(client, started["executionId"]))
        except KeyboardInterrupt:
            return _watch_interrupted(started["executionId"])
    except ApiError as err:
        print(err, file=sys.stderr)
        return 1


def _watch(args: argparse.Namespace) -> int:
    from orchestration_local.client import ApiError, client_from, exit_code, watch

    try:
        return exit_code(watch(client_from(args.url, args.data_dir), args.execution_id))
    except ApiError as err:
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return _watch_interrupted(args.execution_id)


def _openapi(args: argparse.Namespace) -> int:
    import tempfile

    from orchestration_local import openapi
    from orchestration_local.runtime import Runtime

    with tempfile.TemporaryDirectory() as scratch:
        runtime = Runtime(Path(scratch), persist=False)
        try:
            sys.stdout.write(openapi.render(openapi.build(runtime.functions, runtime.template.stage)))
        finally:
            runtime.close()
    return 0


def load_tasks(spec: str) -> dict[str, Any]:
    """``TASKS`` of a module given by import name or file path: {type name: callable(input) -> result}."""
    import importlib
    import importlib.util

    if spec.endswith(".py") or os.sep in spec:
        path = Path(spec).resolve()
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None:
            raise SystemExit(f"cannot load tasks from {spec}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(spec)
    tasks = getattr(module, "TASKS", None)
    if not isinstance(tasks, dict) or not all(callable(f) for f in tasks.values()):
        raise SystemExit(f"{spec} must define TASKS = {{'type-name': callable, ...}}")
    return tasks


def _keys(args: argparse.Namespace) -> int:
    if args.stack:
        return _keys_on_stack(args)
    token_file = Path(args.data_dir) / "admin-token"
    if not token_file.exists():
        print(
            f"No embedded runtime data in {args.data_dir}: start `orchestration dev` first.", file=sys.stderr
        )
        return 2
    headers = {"X-Local-Admin-Token": token_file.read_text().strip(), "Content-Type": "application/json"}
    # One --url convention for every command: the API URL (…/v1) or the bare server both work here.
    parts = urlsplit(args.url or os.environ.get("ORCHESTRATION_URL") or DEFAULT_URL)
    base = f"{parts.scheme}://{parts.netloc}/_local/keys"
    if args.keys_command == "create":
        result = _request("POST", base, headers, {"tenant": args.tenant, "name": args.name})
    elif args.keys_command == "list":
        result = _request("GET", base + (f"?tenant={args.tenant}" if args.tenant else ""), headers, None)
    else:
        result = _request("DELETE", f"{base}/{args.key_id}", headers, None)
    print(json.dumps(result, indent=2))
    return 0


def _keys_on_stack(args: argparse.Namespace) -> int:
    import boto3
    from orchestration_core.auth.store import KeyStore
    from orchestration_core.shared.table import Table

    outputs = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]["Outputs"]
    table_name = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "TableName")
    store = KeyStore(Table(boto3.client("dynamodb"), table_name))
    if args.keys_command == "create":
        plaintext, key = store.create(args.tenant, args.name)
        print(json.dumps({"keyId": key.key_id, "tenantId": key.tenant_id, "apiKey": plaintext}, indent=2))
        print("Store the key now: it is not shown again.", file=sys.stderr)
    elif args.keys_command == "list":
        for key in store.list_keys(args.tenant):
            print(json.dumps(key.__dict__))
    else:
        print(json.dumps(store.revoke(args.key_id).__dict__))
    return 0


def _request(method: str, url: str, headers: dict[str, str], body: Any) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - local URL
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        print(f"{err.code}: {err.read().decode()}", file=sys.stderr)
        raise SystemExit(1) from None
    except urllib.error.URLError as err:
        print(f"cannot reach the embedded runtime at {url}: {err.reason}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
