"""Validation of a workflow's task graph (pure: no AWS calls).

Checks what a JSON schema cannot: unique task names, every ``dependsOn`` entry naming another
task of the same workflow (no self-dependency, no duplicates), no cycles (the error names one),
and the reserved per-task options in ``config`` (``retry``, ``timeoutSeconds``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestration_core.shared.errors import FieldError, ValidationFailed
from orchestration_core.workflows.models import TaskDef

MAX_RETRY_ATTEMPTS = 10
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600


def validate_tasks(tasks: Sequence[TaskDef]) -> None:
    """Raise ValidationFailed listing every problem found, with field paths like tasks[2].dependsOn[0]."""
    errors: list[FieldError] = []
    index: dict[str, int] = {}
    for i, task in enumerate(tasks):
        if task.name in index:
            errors.append(
                FieldError(
                    f"tasks[{i}].name", f"duplicate task name '{task.name}' (also tasks[{index[task.name]}])"
                )
            )
        else:
            index[task.name] = i
    for i, task in enumerate(tasks):
        seen: set[str] = set()
        for k, dep in enumerate(task.depends_on):
            where = f"tasks[{i}].dependsOn[{k}]"
            if dep == task.name:
                errors.append(FieldError(where, f"task '{task.name}' cannot depend on itself"))
            elif dep not in index:
                errors.append(
                    FieldError(where, f"unknown task '{dep}': dependsOn must name a task of this workflow")
                )
            elif dep in seen:
                errors.append(FieldError(where, f"'{dep}' is listed twice"))
            seen.add(dep)
        errors.extend(_config_errors(i, task.config))
        errors.extend(_builtin_errors(i, task))
    if not errors:
        cycle = find_cycle(tasks)
        if cycle:
            first = index[cycle[0]]
            errors.append(FieldError(f"tasks[{first}].dependsOn", "dependency cycle: " + " -> ".join(cycle)))
    if errors:
        raise ValidationFailed("The workflow definition is invalid.", errors)


def find_cycle(tasks: Sequence[TaskDef]) -> list[str] | None:
    """One cycle as [a, b, ..., a] (a depends on b ...), or None. Iterative DFS: safe for long chains."""
    deps = {t.name: [d for d in t.depends_on if d != t.name] for t in tasks}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in deps:
        if root in state:
            continue
        path: list[str] = [root]
        iters = [iter(deps[root])]
        state[root] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif nxt not in deps or state.get(nxt) == 2:
                continue
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            else:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(deps[nxt]))
    return None


def topological_order(tasks: Sequence[TaskDef]) -> list[str]:
    """Task names so that every task comes after its dependencies (Kahn's algorithm, stable)."""
    indegree = {t.name: len(set(t.depends_on)) for t in tasks}
    dependents: dict[str, list[str]] = {t.name: [] for t in tasks}
    for t in tasks:
        for d in set(t.depends_on):
            dependents[d].append(t.name)
    ready = [t.name for t in tasks if indegree[t.name] == 0]
    order: list[str] = []
    while ready:
        name = ready.pop(0) if len(ready) < 64 else ready.pop()
        order.append(name)
        for child in dependents[name]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return order


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _config_errors(i: int, config: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    base = f"tasks[{i}].config"
    if "timeoutSeconds" in config:
        value = config["timeoutSeconds"]
        if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TIMEOUT_SECONDS):
            errors.append(
                FieldError(
                    f"{base}.timeoutSeconds", f"must be a whole number from 1 to {MAX_TIMEOUT_SECONDS}"
                )
            )
    if "retry" in config:
        retry = config["retry"]
        if not isinstance(retry, dict):
            return [*errors, FieldError(f"{base}.retry", "must be an object")]
        for key in sorted(set(retry) - {"maxAttempts", "intervalSeconds", "backoffRate"}):
            errors.append(FieldError(f"{base}.retry.{key}", "unknown field"))
        attempts = retry.get("maxAttempts", 0)
        if not (
            isinstance(attempts, int)
            and not isinstance(attempts, bool)
            and 0 <= attempts <= MAX_RETRY_ATTEMPTS
        ):
            errors.append(
                FieldError(
                    f"{base}.retry.maxAttempts", f"must be a whole number from 0 to {MAX_RETRY_ATTEMPTS}"
                )
            )
        interval = retry.get("intervalSeconds", 1)
        if not (isinstance(interval, int) and not isinstance(interval, bool) and 1 <= interval <= 3600):
            errors.append(
                FieldError(f"{base}.retry.intervalSeconds", "must be a whole number from 1 to 3600")
            )
        rate = retry.get("backoffRate", 2.0)
        if not (_number(rate) and 1.0 <= rate <= 10.0):
            errors.append(FieldError(f"{base}.retry.backoffRate", "must be a number from 1.0 to 10.0"))
    return errors


_HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}
MAX_WAIT_SECONDS = 365 * 24 * 3600


def _builtin_errors(i: int, task: TaskDef) -> list[FieldError]:
    """Configuration a built-in task type needs, checked when the workflow is saved."""
    import jmespath
    import jmespath.exceptions

    base, config, errors = f"tasks[{i}].config", task.config, []
    if task.type == "wait":
        seconds = config.get("seconds")
        if not (
            isinstance(seconds, int) and not isinstance(seconds, bool) and 0 <= seconds <= MAX_WAIT_SECONDS
        ):
            errors.append(
                FieldError(f"{base}.seconds", f"a wait task needs whole seconds from 0 to {MAX_WAIT_SECONDS}")
            )
    elif task.type == "http":
        url = config.get("url")
        if not (isinstance(url, str) and url.startswith(("http://", "https://")) and len(url) <= 2048):
            errors.append(FieldError(f"{base}.url", "an http task needs an http:// or https:// url"))
        method = config.get("method", "GET")
        if not (isinstance(method, str) and method.upper() in _HTTP_METHODS):
            errors.append(FieldError(f"{base}.method", "must be one of " + ", ".join(sorted(_HTTP_METHODS))))
        headers = config.get("headers", {})
        if not (isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())):
            errors.append(FieldError(f"{base}.headers", "must be an object of string values"))
    elif task.type == "lambda":
        name = config.get("functionName")
        if not (isinstance(name, str) and 1 <= len(name) <= 170):
            errors.append(FieldError(f"{base}.functionName", "a lambda task needs a function name or ARN"))
    elif task.type == "transform":
        expression = config.get("expression")
        if not isinstance(expression, str) or not expression:
            errors.append(FieldError(f"{base}.expression", "a transform task needs a JMESPath expression"))
        else:
            try:
                jmespath.compile(expression)
            except jmespath.exceptions.JMESPathError as err:
                errors.append(FieldError(f"{base}.expression", f"invalid JMESPath: {err}"))
    elif task.type == "fail":
        for key in ("error", "cause"):
            value = config.get(key)
            if value is not None and not (isinstance(value, str) and len(value) <= 256):
                errors.append(FieldError(f"{base}.{key}", "must be a string of at most 256 characters"))
        error = config.get("error")
        if isinstance(error, str) and error.startswith("States."):
            errors.append(FieldError(f"{base}.error", "error names starting with 'States.' are reserved"))
    return errors
