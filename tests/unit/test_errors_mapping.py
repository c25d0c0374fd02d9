"""The one mapping of transient failures to HTTP: the table and Step Functions raise failures
with no HTTP meaning; shared/http.py alone answers each with its status, problem body and
Retry-After, exactly as the API answered before the data layer stopped speaking HTTP."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from orchestration_core.shared import http
from orchestration_core.shared.errors import (
    ConcurrentUpdate,
    EngineThrottled,
    EngineUnavailable,
    ProblemError,
    StoreThrottled,
    StoreUnavailable,
    TransientFailure,
)
from orchestration_core.shared.http import TRANSIENT_PROBLEMS, Resolver, transient_problem

CASES = [
    (
        StoreThrottled("The store is throttling requests; retry shortly."),
        429,
        "throttled",
        "Too many requests",
    ),
    (
        ConcurrentUpdate("The store is busy with conflicting writes; retry shortly."),
        429,
        "throttled",
        "Too many requests",
    ),
    (
        StoreUnavailable("The store cannot keep writes right now; retry shortly."),
        503,
        "unavailable",
        "Service unavailable",
    ),
    (
        EngineThrottled("Step Functions is throttling requests; retry shortly."),
        429,
        "throttled",
        "Too many requests",
    ),
    (
        EngineUnavailable("Step Functions refused the request (ServiceUnavailable); retry shortly."),
        503,
        "unavailable",
        "Service unavailable",
    ),
]


def _event() -> dict[str, Any]:
    return {
        "resource": "/boom",
        "path": "/boom",
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"stage": "v1", "httpMethod": "GET", "path": "/v1/boom", "resourcePath": "/boom"},
        "body": None,
        "isBase64Encoded": False,
    }


def test_transient_failures_carry_no_http_meaning() -> None:
    for err, *_ in CASES:
        assert isinstance(err, TransientFailure)
        assert not isinstance(err, ProblemError)
        assert not hasattr(err, "status")


def test_every_transient_failure_has_a_mapping() -> None:
    assert set(TRANSIENT_PROBLEMS) == {type(err) for err, *_ in CASES}


@pytest.mark.parametrize(("err", "status", "slug", "title"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_each_transient_failure_maps_to_its_problem(
    err: TransientFailure, status: int, slug: str, title: str
) -> None:
    problem = transient_problem(err)
    assert (problem.status, problem.slug, problem.title, problem.detail) == (status, slug, title, err.detail)


@pytest.mark.parametrize(("err", "status", "slug", "title"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_the_resolver_answers_a_transient_failure_as_problem_json_with_retry_after(
    err: TransientFailure, status: int, slug: str, title: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "get_settings", lambda: SimpleNamespace(max_body_bytes=262144))
    app = Resolver()

    @app.get("/boom")
    def boom() -> dict[str, Any]:
        raise err

    response = app.resolve(_event(), None)  # type: ignore[arg-type]
    assert response["statusCode"] == status
    headers = {
        **response.get("headers", {}),
        **{k: v[0] for k, v in response.get("multiValueHeaders", {}).items()},
    }
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Retry-After"] == "1"
    assert json.loads(response["body"]) == {
        "type": f"urn:orchestration:problem:{slug}",
        "title": title,
        "status": status,
        "detail": err.detail,
        "errors": [],
    }
