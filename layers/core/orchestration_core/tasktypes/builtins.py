"""The built-in task types: one table read by validation, the compiler, the task runner
and the task-type routes."""

from __future__ import annotations

BUILTIN_TYPES = frozenset({"noop", "wait", "http", "lambda", "transform", "fail"})
# Types with a native step of their own (a Wait state, a Lambda invoked by Step Functions).
# Everything else (the other built-ins and custom types) runs inside the task runner: one
# state per task.
NATIVE_TYPES = frozenset({"wait", "lambda"})


BUILTIN_DESCRIPTIONS = {
    "noop": "Returns its input.",
    "wait": "A Step Functions Wait state (config.seconds).",
    "http": "An HTTP request from the task runner (config.url, method, headers, body, timeoutSeconds).",
    "lambda": "A Step Functions Lambda invoke (config.functionName).",
    "transform": "A JMESPath expression over the task input (config.expression).",
    "fail": "Fails with config.error and config.cause.",
}
