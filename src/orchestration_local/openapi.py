"""The API's OpenAPI document, generated from the route code of every function in template.yaml.

Each function's Powertools resolver describes its own route and models; this merges them,
swaps Powertools' default 422 validation response for the API's 400 problem+json, and adds
the Bearer scheme and the errors every route can answer. `orchestration openapi` prints it;
docs/openapi.json is the committed copy (a test fails if it drifts from the code).
"""

from __future__ import annotations

import json
from typing import Any

from orchestration_core.shared.http import Problem

from orchestration_local.lambdas import Functions

TITLE = "Orchestration API"
VERSION = "1.0.0"
_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_ERRORS = {
    "400": "Invalid request (body, query or headers); see errors[]",
    "401": "Missing, invalid or revoked API key",
    "404": "No such object for this tenant",
    "413": "Request body over 256 KiB",
    "429": "Throttled; retry after Retry-After seconds",
}
_DESCRIPTIONS = {
    **_ERRORS,
    "409": "Conflict with the object's state",
    "412": "If-Match does not match the current ETag",
    "422": "The workflow uses task types that are not registered",
    "503": "Step Functions is unavailable; retry",
}
_EXTRA = {"post": ["409", "503"], "put": ["409", "412"], "delete": ["412"]}


def build(functions: Functions, stage: str = "v1") -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Problem": Problem.model_json_schema()}
    for logical_id in sorted(functions.api_functions):
        app = getattr(functions.modules[logical_id], "app", None)
        if app is None:
            continue
        doc = app.get_openapi_schema(title=TITLE, version=VERSION).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        for path, operations in doc.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(doc.get("components", {}).get("schemas", {}))
    for schema in ("HTTPValidationError", "ValidationError"):
        schemas.pop(schema, None)
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            codes = [*_ERRORS, *_EXTRA.get(method, [])]
            if path.endswith("/execute"):
                codes.append("422")
            for code in codes:
                responses[code] = {
                    "description": _DESCRIPTIONS[code],
                    "content": {"application/problem+json": {"schema": _PROBLEM}},
                }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Workflows with dependsOn, executed as AWS Step Functions state machines, "
            "on cron schedules. Every route needs `Authorization: Bearer <key>`.",
        },
        "servers": [{"url": f"/{stage}"}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key"}},
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def docs_page(prefix: str = "/v1") -> str:
    """The interactive docs: swagger-ui from the copy the console function bundles (no CDN)."""
    assets = f"{prefix}/console"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Orchestration API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{assets}/swagger-ui.css"></head>
<body><div id="ui" data-url="{prefix}/openapi.json"><p>Loading the interactive docs.
The document itself: <a href="{prefix}/openapi.json">{prefix}/openapi.json</a>.</p></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/docs.js"></script></body></html>
"""
