"""A small HTTP client for the API and the `orchestration` commands that use it.

Works against the embedded runtime and a deployed stack alike: `--url` (or
ORCHESTRATION_URL) and the key from ORCHESTRATION_API_KEY (or, locally, the key
`orchestration dev` keeps in its data directory).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

DEFAULT_URL = "http://127.0.0.1:3000/v1"
TERMINAL = {"completed", "failed", "cancelled"}
_SYMBOL = {"pending": "·", "running": "▶", "completed": "✔", "failed": "✘", "skipped": "-", "cancelled": "■"}
_STYLE = {"running": "cyan", "completed": "green", "failed": "red", "skipped": "dim", "cancelled": "yellow"}


class CliError(Exception):
    """A user error the CLI reports in one line (no traceback): exit 1 for a failure, 2 for usage."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class ApiError(Exception):
    """An error answer of the API: its status and detail, then one line per field error."""

    def __init__(self, status: int, body: Any, hint: str = "") -> None:
        detail = (
            (body.get("detail") or body.get("title") or body.get("message"))
            if isinstance(body, dict)
            else body
        )
        lines = [f"{status}: {detail}"]
        if isinstance(body, dict):
            lines += [
                f"  {e.get('field')}: {e.get('message')}"
                for e in body.get("errors") or []
                if isinstance(e, dict)
            ]
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))
        self.status = status
        self.body = body


@dataclass
class Client:
    base_url: str
    api_key: str

    def call(self, method: str, path: str, body: Any = None, **options: Any) -> Any:
        """The parsed body of ``request`` (``options``: its ``params`` and ``headers``)."""
        return self.request(method, path, body, **options)[2]

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """(status, headers with lower-case names, parsed body); a 304 has no body (None)."""
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
        if urllib.parse.urlsplit(self.base_url).scheme not in ("http", "https") or "//" not in self.base_url:
            raise CliError(f"the API URL must start with http:// or https://, got {self.base_url!r}", 2)
        url = self.base_url.rstrip("/") + path + (f"?{query}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        sent = {
            "Authorization": f"Bearer {self.api_key}",
            "Content-Type": "application/json",
            **(headers or {}),
        }
        request = urllib.request.Request(url, data=data, headers=sent, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                answered = {k.lower(): v for k, v in response.headers.items()}
                return response.status, answered, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            if err.code == 304:
                return 304, {k.lower(): v for k, v in err.headers.items()}, None
            raw = err.read()
            try:
                parsed: Any = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            raise ApiError(err.code, parsed, _url_hint(self.base_url, err.code, parsed)) from None
        except (urllib.error.URLError, OSError) as err:  # refused, unknown host, timed out, reset
            reason = getattr(err, "reason", None) or err
            raise CliError(
                f"cannot reach the API at {self.base_url} ({reason}). Is it running (`orchestration dev`)? "
                "Point --url or ORCHESTRATION_URL at its API URL, e.g. http://127.0.0.1:3000/v1."
            ) from None
        except ValueError:
            raise CliError(f"{url} did not answer JSON: is --url the API URL (…/v1)?") from None


def _url_hint(base_url: str, status: int, body: Any) -> str:
    """A 403/404 from API Gateway for a path it does not know usually means --url lacks the stage."""
    text = str(body)
    unknown_route = "No such route" in text or "Missing Authentication Token" in text
    if status in (403, 404) and unknown_route:
        return (
            f"hint: no such API route under {base_url}; --url is the API URL including its stage, "
            "e.g. http://127.0.0.1:3000/v1 or https://<api-id>.execute-api.<region>.amazonaws.com/v1"
        )
    return ""


def client_from(url: str | None, data_dir: str) -> Client:
    key = os.environ.get("ORCHESTRATION_API_KEY")
    local = Path(data_dir).resolve() / "dev-api-key"
    if not key and local.exists():
        key = local.read_text().strip()
    if not key:
        raise CliError(
            f"no API key: set ORCHESTRATION_API_KEY, or point --data-dir at the folder `orchestration dev` "
            f"uses (no key at {local})",
            2,
        )
    return Client(url or os.environ.get("ORCHESTRATION_URL") or DEFAULT_URL, key)


def _seconds(start: str | None, end: str | None) -> str:
    if not start:
        return ""
    begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    finish = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else datetime.now(begin.tzinfo)
    return f"{(finish - begin).total_seconds():.1f}s"


def render(execution: dict[str, Any]) -> Any:
    """A rich renderable: the execution's header and one row per task."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    tasks = execution["tasks"]
    done = sum(1 for t in tasks if t["status"] in {"completed", "failed", "skipped"})
    status = execution["status"]
    header = Text.assemble(
        (f"{execution['id']}  ", "bold"),
        (status, _STYLE.get(status, "")),
        f"  {done}/{len(tasks)} tasks  {_seconds(execution['startedAt'], execution.get('completedAt'))}",
    )
    table = Table(box=None, pad_edge=False)
    for column in ("", "task", "status", "duration", "attempts", "detail"):
        table.add_column(column)
    for task in tasks:
        detail = ""
        if task.get("error"):
            detail = f"{task['error'].get('error')}: {task['error'].get('cause') or ''}"[:80]
        table.add_row(
            _SYMBOL.get(task["status"], "?"),
            task["name"],
            Text(task["status"], style=_STYLE.get(task["status"], "")),
            _seconds(task.get("startedAt"), task.get("completedAt")),
            str(task.get("attempts") or ""),
            detail,
        )
    parts: list[Any] = [header, table]
    if execution.get("error"):
        error = execution["error"]
        parts.append(
            Text(f"failed in task {error.get('task')}: {error.get('error')}: {error.get('cause')}", "red")
        )
    return Group(*parts)


# How long `watch` asks the API to hold each read (GET /executions/{id}?waitSeconds= with the
# last ETag): it answers as soon as anything shown changes, so the end of a run is seen within
# about 100 ms. On a terminal the held reads are short, so the durations shown tick each second.
WAIT_SECONDS = 20.0
WAIT_SECONDS_LIVE = 1.0
NO_ETAG_PAUSE = 1.0  # a server that sends no ETag cannot hold a read: ask once a second


T = TypeVar("T")
RESPONSIVE_SECONDS = 0.2


def interruptible(call: Callable[[], T]) -> T:
    """``call()`` on a daemon thread while this (the main) thread waits in short steps, so Ctrl-C
    stops a held request at once. A blocking socket read can miss a signal that lands between
    Python's check for signals and the read itself; the read then sleeps until the server
    answers, which for a held request is up to its waitSeconds."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as err:  # noqa: BLE001 - handed to the caller as it is
            box["error"] = err

    worker = threading.Thread(target=run, name="held-request", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(RESPONSIVE_SECONDS)  # a pending Ctrl-C is raised here within that long
    if "error" in box:
        raise box["error"]
    return cast("T", box["value"])


class Changes:
    """Each state of one execution, from long-polled reads: ``next()`` answers the execution
    when it changed, or None when the wait was up and nothing had."""

    def __init__(
        self,
        client: Client,
        execution_id: str,
        wait_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.path = client, f"/executions/{execution_id}"
        self.wait_seconds, self.sleep = wait_seconds, sleep
        self.etag: str | None = None

    def first(self) -> dict[str, Any]:
        _, headers, execution = self.client.request("GET", self.path)
        self.etag = headers.get("etag")
        return cast("dict[str, Any]", execution)

    def next(self) -> dict[str, Any] | None:
        if self.etag is None:
            self.sleep(NO_ETAG_PAUSE)
            return self.first()
        etag = self.etag
        status, headers, execution = interruptible(
            lambda: self.client.request(
                "GET", self.path, params={"waitSeconds": self.wait_seconds}, headers={"If-None-Match": etag}
            )
        )
        if status == 304:
            return None
        self.etag = headers.get("etag")
        return cast("dict[str, Any]", execution)


def watch(
    client: Client,
    execution_id: str,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Show live per-task progress until the execution ends; return its final state."""
    from rich.console import Console
    from rich.live import Live

    console = Console()
    live_view = console.is_terminal
    changes = Changes(client, execution_id, WAIT_SECONDS_LIVE if live_view else WAIT_SECONDS, sleep)
    execution = changes.first()
    if live_view:
        with Live(render(execution), console=console, refresh_per_second=8) as live:
            while execution["status"] not in TERMINAL:
                execution = changes.next() or execution
                live.update(render(execution))  # unchanged too: the running durations tick
        return execution
    # Not a terminal (CI logs, pipes): one line per change.
    seen: dict[str, str] = {}
    while True:
        for task in [{"name": "(execution)", "status": execution["status"]}, *execution["tasks"]]:
            if seen.get(task["name"]) != task["status"]:
                seen[task["name"]] = task["status"]
                print(f"{_SYMBOL.get(task['status'], '?')} {task['name']}: {task['status']}", flush=True)
        if execution["status"] in TERMINAL:
            console.print(render(execution))
            return execution
        execution = changes.next() or execution


def exit_code(execution: dict[str, Any]) -> int:
    """0 completed, 1 failed, 3 cancelled (2 is the exit code of a usage error)."""
    return {"completed": 0, "failed": 1, "cancelled": 3}.get(execution["status"], 1)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """--param k=v (v parsed as JSON when it is JSON, else kept as a string)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise CliError(f"--param takes key=value, got {pair!r}", 2)
        key, raw = pair.split("=", 1)
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def emit(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")
