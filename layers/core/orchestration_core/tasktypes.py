"""Task types: the built-ins the task runner executes, and the registry of custom types.

A custom type maps a type name to a Lambda function, from (first) the tenant's registry
(``PUT /task-types/{name}``) or (then) the deployment's ``TASK_TYPES`` setting.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Mapping
from typing import Any

import jmespath
import jmespath.exceptions

from orchestration_core import clock, netguard
from orchestration_core.compiler import BUILTIN_TYPES
from orchestration_core.errors import NotFound
from orchestration_core.store.table import Table

MAX_RESULT_BYTES = 256 * 1024
USER_AGENT = "orchestration-http-task"
# GET /task-types: a tenant's registrations are listed whole (they are few), up to this many.
MAX_LISTED = 1000
BUILTIN_DESCRIPTIONS = {
    "noop": "Returns its input.",
    "wait": "A Step Functions Wait state (config.seconds).",
    "http": "An HTTP request from the task runner (config.url, method, headers, body, timeoutSeconds).",
    "lambda": "A Step Functions Lambda invoke (config.functionName).",
    "transform": "A JMESPath expression over the task input (config.expression).",
    "fail": "Fails with config.error and config.cause.",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class TaskError(Exception):
    """A task failed. ``error`` is the name Step Functions sees (Retry/Catch match on it)."""

    error = "TaskFailed"

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def task_error(name: str, cause: str) -> TaskError:
    """An exception whose class name is ``name``: Lambda reports the class name as the error."""
    cls: type[TaskError] = type(name, (TaskError,), {"error": name})
    return cls(cause)


# -- built-in executors ----------------------------------------------------------------------------
def run_task(
    task_type: str, config: Mapping[str, Any], task_input: dict[str, Any], function: str | None, lambdas: Any
) -> Any:
    """Run a task the runner executes: a built-in, or a custom type's Lambda ``function``."""
    if function is not None:
        return invoke_function(lambdas, function, task_input)
    return run_builtin(task_type, config, task_input)


def invoke_function(lambdas: Any, function: str, task_input: dict[str, Any]) -> Any:
    """Invoke a custom type's Lambda synchronously; its error type becomes the task's error."""
    response = lambdas.invoke(
        FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(task_input).encode()
    )
    raw = response["Payload"].read()
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    if response.get("FunctionError"):
        detail = body if isinstance(body, dict) else {}
        raise task_error(
            str(detail.get("errorType") or "TaskFailed"), str(detail.get("errorMessage") or body or "")[:4096]
        )
    return body


def run_builtin(task_type: str, config: Mapping[str, Any], task_input: dict[str, Any]) -> Any:
    if task_type == "noop":
        return task_input
    if task_type == "transform":
        try:
            return jmespath.search(config["expression"], task_input)
        except jmespath.exceptions.JMESPathError as err:
            raise task_error("TransformError", str(err)) from None
    if task_type == "fail":
        raise task_error(
            str(config.get("error") or "TaskFailed"), str(config.get("cause") or "failed by a fail task")
        )
    if task_type == "http":
        return _http(config)
    raise task_error("UnknownTaskType", f"the task runner does not execute '{task_type}' tasks")


def _http(config: Mapping[str, Any]) -> dict[str, Any]:
    """The request of an ``http`` task, through the address guard (netguard): a refused address
    fails with ``HttpAddressRefused``, any other failure or a non-2xx answer with ``HttpError``."""
    body = config.get("body")
    data = None
    headers = dict(config.get("headers") or {})
    headers.setdefault("User-Agent", USER_AGENT)
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        if not isinstance(body, str):
            headers.setdefault("Content-Type", "application/json")
    method = str(config.get("method", "GET")).upper()
    timeout = float(config.get("timeoutSeconds", 30))
    try:
        allowed = netguard.allowed_from_environment()
        resp = netguard.fetch(method, config["url"], headers, data, timeout, MAX_RESULT_BYTES, allowed)
    except (netguard.AddressRefused, netguard.InvalidAllowList) as err:  # an unreadable list allows nothing
        raise task_error(netguard.REFUSED_ERROR, str(err)) from None
    except netguard.RedirectError as err:
        raise task_error("HttpError", str(err)) from None
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise task_error("HttpError", f"request failed: {err}") from None
    if not 200 <= resp.status < 300:
        detail = resp.body[:2048].decode(errors="replace")
        raise task_error("HttpError", f"{resp.status} {resp.reason}: {detail}")
    if len(resp.body) > MAX_RESULT_BYTES:
        raise task_error("ResultTooLarge", f"the response body is larger than {MAX_RESULT_BYTES} bytes")
    text = resp.body.decode(errors="replace")
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    return {"status": resp.status, "headers": resp.headers, "body": parsed}


# -- registry --------------------------------------------------------------------------------------
class TaskTypeRegistry:
    def __init__(self, table: Table, deployment_types: Mapping[str, str]) -> None:
        self.table = table
        self.deployment_types = dict(deployment_types)

    def resolve(self, tenant_id: str, names: set[str]) -> dict[str, str]:
        """Function for each custom type name that is registered (missing ones are absent)."""
        found: dict[str, str] = {}
        for name in sorted(names - BUILTIN_TYPES):
            item = self.table.get(_pk(tenant_id, name), "TT")
            if item:
                found[name] = item["functionArn"]
            elif name in self.deployment_types:
                found[name] = self.deployment_types[name]
        return found

    def put(self, tenant_id: str, name: str, function_arn: str, description: str) -> dict[str, Any]:
        existing = self.table.get(_pk(tenant_id, name), "TT")
        now = clock.now_iso()
        item = {
            "PK": _pk(tenant_id, name),
            "SK": "TT",
            # GSI1 lists a tenant's registrations (GET /task-types), by name.
            "GSI1PK": _list_partition(tenant_id),
            "GSI1SK": name,
            "entity": "tasktype",
            "name": name,
            "functionArn": function_arn,
            "description": description,
            "createdAt": existing["createdAt"] if existing else now,
            "updatedAt": now,
        }
        self.table.transact([self.table.put_op(item)])
        return item

    def get(self, tenant_id: str, name: str) -> dict[str, Any]:
        item = self.table.get(_pk(tenant_id, name), "TT")
        if item is None:
            if name in self.deployment_types:
                return {
                    "name": name,
                    "functionArn": self.deployment_types[name],
                    "description": "",
                    "source": "deployment",
                }
            raise NotFound(f"Task type '{name}' is not registered.")
        return item

    def list(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every type a workflow of this tenant can use, by name: built-in, the deployment's
        (``TASK_TYPES``) and the tenant's registrations (which take precedence over the deployment's)."""
        items, _ = self.table.page(1, _list_partition(tenant_id), MAX_LISTED, 0, lambda _id: {})
        listed: dict[str, dict[str, Any]] = {
            name: {"name": name, "functionArn": "", "description": text, "source": "builtin"}
            for name, text in BUILTIN_DESCRIPTIONS.items()
        }
        for name, arn in self.deployment_types.items():
            listed[name] = {"name": name, "functionArn": arn, "description": "", "source": "deployment"}
        for item in items:
            listed[item["name"]] = {**item, "source": "registered"}
        return [listed[name] for name in sorted(listed)]

    def delete(self, tenant_id: str, name: str) -> None:
        self.get(tenant_id, name)
        self.table.transact([self.table.delete_op(_pk(tenant_id, name), "TT")])


def _list_partition(tenant_id: str) -> str:
    return f"T#{tenant_id}#TT"


def _pk(tenant_id: str, name: str) -> str:
    return f"T#{tenant_id}#TT#{name}"


def valid_type_name(name: str) -> bool:
    return bool(_NAME.match(name))
