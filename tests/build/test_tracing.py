"""Handlers pay for X-Ray only when tracing is on (orchestration_core.shared.tracing).

Each case runs in a fresh interpreter: whether the X-Ray SDK was imported is a fact about
sys.modules at start-up, which one test process cannot observe twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = """
import json, sys
from orchestration_core.shared import tracing

def handler(event, context):
    return {"ok": True}

wrapped = tracing.capture_lambda_handler(handler)
print(json.dumps({
    "enabled": tracing.tracing_enabled(),
    "wrapped": wrapped is not handler,
    "xray_imported": "aws_xray_sdk" in sys.modules,
}))
"""


def run(env: dict[str, str]) -> dict[str, bool]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "LAMBDA_"))}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env={**base, **env}, capture_output=True, text=True, check=True
    )
    result: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "env",
    [
        {},  # outside Lambda
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"},
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"},
        {"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"},
    ],
    ids=["outside-lambda", "disabled-true", "disabled-1", "sam-local"],
)
def test_tracing_off_leaves_the_handler_and_never_imports_the_sdk(env: dict[str, str]) -> None:
    assert run(env) == {"enabled": False, "wrapped": False, "xray_imported": False}


def test_tracing_on_in_lambda_wraps_the_handler_with_powertools_tracer() -> None:
    env = {
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "POWERTOOLS_TRACE_DISABLED": "false",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    assert run(env) == {"enabled": True, "wrapped": True, "xray_imported": True}
