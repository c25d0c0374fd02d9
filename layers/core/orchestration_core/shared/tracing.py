"""X-Ray tracing of a Lambda handler, paid for only when it is on.

Powertools' ``Tracer()`` imports and configures the X-Ray SDK (and patches botocore) as soon
as it is constructed, even when tracing is disabled: about 190 ms of every cold start. So the
handlers wrap themselves with :func:`capture_lambda_handler`, which builds a ``Tracer`` only
when tracing is on, by Powertools' own rules: inside Lambda (``LAMBDA_TASK_ROOT`` set), not
under ``sam local`` or Chalice, and ``POWERTOOLS_TRACE_DISABLED`` not true. Otherwise the
handler is returned unchanged and the SDK is never imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_TRUTHY = {"1", "y", "yes", "t", "true", "on"}


def tracing_enabled() -> bool:
    """Whether Powertools' Tracer would trace here (the same rules, without building one)."""
    # The process environment, not get_settings(): this runs when a handler module is imported,
    # outside any invocation, where the embedded runtime has set no function's settings (they
    # would be the process's anyway); it must agree with the Tracer, which reads os.environ
    # itself; and get_settings() here would refuse a function's import for a setting it may
    # never read. These are Lambda's and Powertools' variables, never a function's own: the
    # embedded runtime sets no LAMBDA_TASK_ROOT, so no function there traces.
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUTHY:
        return False
    if not os.environ.get("LAMBDA_TASK_ROOT"):
        return False
    return not (os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE"))


def capture_lambda_handler(handler: F) -> F:
    """``Tracer().capture_lambda_handler(capture_response=False)`` when tracing is on, else ``handler``."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    traced: F = Tracer().capture_lambda_handler(capture_response=False)(handler)
    return traced
