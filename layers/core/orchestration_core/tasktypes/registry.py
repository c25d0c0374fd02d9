"""Task types: running one (the built-ins, or a custom type's Lambda function) and checking a
custom type's function; ``tasktypes/store.py`` keeps the tenants' registrations.

A custom type maps a type name to a Lambda function, from (first) the tenant's registry
(``PUT /task-types/{name}``) or (then) the deployment's ``TASK_TYPES`` setting.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions

from orchestration_core.shared.config import get_settings
from orchestration_core.shared.errors import FieldError, ValidationFailed
from orchestration_core.tasktypes import netguard

MAX_RESULT_BYTES = 256 * 1024
USER_AGENT = "orchestration-http-task"
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


HTTP_TIMEOUT_CAP_SECONDS = 870.0


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
    # Never longer than the task runner's own Lambda timeout (900 s) leaves: a request still
    # waiting then fails as a task error instead of the runner being killed mid-request.
    timeout = min(float(config.get("timeoutSeconds", 30)), HTTP_TIMEOUT_CAP_SECONDS)
    # The running function's own list (its settings: in the embedded runtime, the task runner's).
    cidrs = get_settings().http_task_allowed_cidrs
    try:
        allowed = netguard.parse_allowed(cidrs)
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


# -- which functions a registration may name ----------------------------------------------------
_FUNCTION_ARN = re.compile(
    r"^arn:(?P<partition>[a-z-]+):lambda:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):function:"
    r"(?P<name>[^:]*)(?::(?P<qualifier>[^:]*))?$"
)
_PARTIAL_ARN = re.compile(r"^(?P<account>[0-9]{12}):function:(?P<name>[^:]*)(?::(?P<qualifier>[^:]*))?$")
_FUNCTION_NAME = re.compile(r"^(?P<name>[^:]*)(?::(?P<qualifier>[^:]*))?$")
_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_VALID_QUALIFIER = re.compile(r"^(\$LATEST|[A-Za-z0-9_-]{1,128})$")


@dataclass(frozen=True)
class Deployment:
    """Where this deployment runs, and the prefix its task functions carry. ``account`` is None
    when it cannot be known: then only a bare function name (in the caller's own account and
    region by construction) is accepted."""

    partition: str
    region: str
    account: str | None
    prefix: str


def this_deployment(invoked_function_arn: str | None) -> Deployment:
    """This deployment, from the running function's own ARN (Lambda's context): its partition,
    region and account. Without one, the region is ``AWS_REGION`` and the account that of
    another ARN of the stack the function was given (the task runner's, the state machines'
    role), else unknown. The prefix is the function's ``TASK_FUNCTION_PREFIX`` setting."""
    settings = get_settings()
    prefix = settings.task_function_prefix
    own = _FUNCTION_ARN.match(invoked_function_arn or "")
    if own:
        return Deployment(own["partition"], own["region"], own["account"], prefix)
    for arn in (settings.task_runner_arn, settings.state_machine_role_arn):
        parts = arn.split(":")
        if len(parts) > 4 and parts[0] == "arn" and re.fullmatch(r"[0-9]{12}", parts[4]):
            return Deployment(parts[1], settings.aws_region, parts[4], prefix)
    return Deployment("aws", settings.aws_region, None, prefix)


def function_problem(function: str, deployment: Deployment) -> str | None:
    """Why a registration may not name ``function`` (a Lambda function name, ``name:qualifier``,
    a partial ARN ``account:function:name`` or a full ARN), or None. It must be in this
    deployment's partition, region and account, and its name must carry the deployment's task
    function prefix (the only functions the stack's IAM lets the runner invoke)."""
    example = f"a function name starting with '{deployment.prefix}', or its ARN"
    found = _FUNCTION_ARN.match(function) or _PARTIAL_ARN.match(function)
    if found is None and (function.startswith("arn:") or ":function:" in function):
        return f"'{function}' is not a Lambda function ARN: give {example}"
    found = found or _FUNCTION_NAME.match(function)
    if found is None:
        return f"'{function}' is not a Lambda function name or ARN: give {example}"
    name, qualifier = found["name"], found["qualifier"]
    if not _VALID_NAME.match(name):
        return f"'{name}' is not a Lambda function name (1 to 64 of A-Z, a-z, 0-9, '-' and '_')"
    if qualifier is not None and not _VALID_QUALIFIER.match(qualifier):
        return f"'{qualifier}' is not a version or alias of a Lambda function"
    groups = found.groupdict()
    if groups.get("partition") not in (None, deployment.partition):
        return (
            f"the function is in partition '{groups['partition']}', "
            f"not this deployment's ('{deployment.partition}')"
        )
    if groups.get("region") not in (None, deployment.region):
        return (
            f"the function is in region {groups['region']}; this deployment invokes only "
            f"functions of its own region, {deployment.region}"
        )
    account = groups.get("account")
    if account is not None and deployment.account is None:
        return (
            "the deployment's account is not known here, so an ARN cannot be checked: give the function name"
        )
    if account not in (None, deployment.account):
        return (
            f"the function belongs to account {account}; this deployment invokes only "
            "functions of its own account"
        )
    if not name.startswith(deployment.prefix):
        return (
            f"the function name '{name}' does not start with this deployment's task function "
            f"prefix '{deployment.prefix}'"
        )
    return None


def check_function(function: str, deployment: Deployment) -> None:
    """400 on field ``functionArn`` unless this deployment may invoke ``function``."""
    problem = function_problem(function, deployment)
    if problem:
        raise ValidationFailed(
            "The task type's function is not one this deployment may invoke.",
            [FieldError("functionArn", problem)],
        )


def valid_type_name(name: str) -> bool:
    return bool(_NAME.match(name))
