"""What a function loads at cold start: the authorizer no pydantic, API models not built before use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _child(code: str, function: str) -> dict[str, object]:
    path = [str(REPO / "functions" / function), str(REPO / "layers" / "core")]
    env = {
        **os.environ,
        "TABLE_NAME": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", f"import sys, json; sys.path[0:0] = {path!r}\n{code}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_authorizer_loads_no_pydantic_and_no_compiler() -> None:
    seen = _child(
        "import app, orchestration_core.auth.store\n"
        "print(json.dumps({m: m in sys.modules for m in "
        "('pydantic', 'orchestration_core.engine.compiler', 'orchestration_core.executions.runner')}))",
        "authorizer",
    )
    assert seen == {
        "pydantic": False,
        "orchestration_core.engine.compiler": False,
        "orchestration_core.executions.runner": False,
    }


def test_api_models_are_built_when_first_used() -> None:
    seen = _child(
        "import app\n"
        "from orchestration_core.workflows import api\n"
        "before = api.WorkflowSummary.__pydantic_complete__\n"
        "api.WorkflowSummary.model_json_schema()\n"
        "print(json.dumps({'before': before, 'after': api.WorkflowSummary.__pydantic_complete__}))",
        "workflows_get",
    )
    assert seen == {"before": False, "after": True}
