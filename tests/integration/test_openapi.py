"""The committed OpenAPI document is the one the route code generates (regenerate with
`orchestration openapi > docs/openapi.json`), and it covers every API route of template.yaml."""

from __future__ import annotations

import json
from pathlib import Path

from orchestration_local import openapi
from orchestration_local.runtime import Runtime

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_document_matches_the_code(runtime: Runtime) -> None:
    generated = openapi.render(openapi.build(runtime.functions, runtime.template.stage))
    assert COMMITTED.read_text() == generated, "run: orchestration openapi > docs/openapi.json"


def test_every_template_route_is_documented(runtime: Runtime) -> None:
    document = json.loads(COMMITTED.read_text())
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    # The console's static files (Auth: NONE) are pages, not API operations.
    declared = {(route.method, route.path) for route in runtime.template.routes if not route.public}
    assert declared == documented


def test_errors_are_documented_as_problem_json() -> None:
    document = json.loads(COMMITTED.read_text())
    for ops in document["paths"].values():
        for operation in ops.values():
            assert "422" not in operation["responses"] or "execute" in operation["operationId"]
            assert operation["responses"]["401"]["content"]["application/problem+json"]
