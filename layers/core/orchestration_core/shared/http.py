"""HTTP plumbing shared by every API function: the resolver, problem+json errors, the caller.

One module maps errors to responses: a ProblemError becomes its status and RFC 9457 body,
a TransientFailure of the table or Step Functions becomes a 429 or 503 problem with Retry-After
(``transient_problem``, the one place those get an HTTP meaning), a request validation error
becomes 400 with field paths like ``tasks[2].dependsOn[0]``, and anything unexpected becomes an
opaque 500 (logged with its stack, never echoed).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from orchestration_core.shared.config import get_settings
from orchestration_core.shared.errors import (
    ConcurrentUpdate,
    EngineThrottled,
    EngineUnavailable,
    FieldError,
    PayloadTooLarge,
    ProblemError,
    StoreThrottled,
    StoreUnavailable,
    Throttled,
    TransientFailure,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from orchestration_core.shared.limits import MAX_JSON_DEPTH, json_depth

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:orchestration:problem:"

logger = Logger()


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]]


def problem_response(err: ProblemError, headers: Mapping[str, str] | None = None) -> Response[str]:
    body = Problem(
        type=PROBLEM_BASE + err.slug,
        title=err.title,
        status=err.status,
        detail=err.detail,
        errors=[{"field": e.field, "message": e.message} for e in err.errors],
    )
    extra = dict(headers or {})
    if err.status in {429, 503}:
        extra.setdefault("Retry-After", "1")
    return Response(
        status_code=err.status, content_type=PROBLEM_JSON, body=body.model_dump_json(), headers=extra
    )


# The HTTP answer to each transient failure: throttling and lost write races are 429 (the client
# slows down), a dependency that cannot do the work is 503. Both carry Retry-After.
TRANSIENT_PROBLEMS: dict[type[TransientFailure], type[ProblemError]] = {
    StoreThrottled: Throttled,
    ConcurrentUpdate: Throttled,
    StoreUnavailable: Unavailable,
    EngineThrottled: Throttled,
    EngineUnavailable: Unavailable,
}


def transient_problem(err: TransientFailure) -> ProblemError:
    """The problem a transient failure is answered with (its detail kept as the problem's)."""
    for kind in type(err).__mro__:
        if kind in TRANSIENT_PROBLEMS:
            return TRANSIENT_PROBLEMS[kind](err.detail)
    return Unavailable(err.detail)


def transient_response(err: TransientFailure) -> Response[str]:
    return problem_response(transient_problem(err))


def field_path(loc: Sequence[str | int]) -> str:
    """('body', 'tasks', 2, 'dependsOn', 0) -> 'tasks[2].dependsOn[0]'; ('query', 'limit') -> 'limit'."""
    parts = list(loc)
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part:
            out += f".{part}" if out else str(part)
    return out or "body"


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    if kind == "json_invalid":
        return "the body is not valid JSON"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "field required"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> ProblemError:
    fields = [
        FieldError("body" if e.get("type") == "json_invalid" else field_path(e.get("loc", ())), _message(e))
        for e in errors
    ]
    if any(e.get("type") == "json_invalid" for e in errors):
        return ValidationFailed("The request body is not valid JSON.", fields)
    return ValidationFailed("The request is invalid; see errors.", fields)


T = TypeVar("T")


def json_response(status_code: int, body: T, headers: Mapping[str, str] | None = None) -> Response[T]:
    """A JSON answer with a status other than the route's default, or headers (ETag, Location)."""
    return Response(
        status_code=status_code, content_type="application/json", body=body, headers=dict(headers or {})
    )


class NotModified(Exception):
    """Raised by a route to answer ``304 Not Modified`` (no body, so no response model to
    validate; Powertools would validate a ``None`` body against the route's model)."""

    def __init__(self, etag: str) -> None:
        super().__init__(etag)
        self.etag = etag


def not_modified_response(err: NotModified) -> Response[str]:
    return Response(status_code=304, body="", headers={"ETag": err.etag})


class Resolver(APIGatewayRestResolver):
    """The REST resolver every function uses: validation on, problem+json errors, body size limit."""

    def __init__(self) -> None:
        super().__init__(enable_validation=True)
        self.exception_handler(RequestValidationError)(self._on_validation_error)
        self.exception_handler(ProblemError)(problem_response)
        self.exception_handler(NotModified)(not_modified_response)
        self.exception_handler(TransientFailure)(transient_response)
        self.exception_handler(Exception)(self._on_unexpected)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Check the body before Powertools sees it: size (413), then a UTF-8 JSON object that
        Python's decoder can hold (400, never a 500 for NaN, deep nesting or 5,000-digit numbers;
        never an array read as its first element; never 1e999 stored as inf or null). The API
        speaks JSON only, so a body is read as JSON whatever Content-Type says."""
        try:
            event = _json_event(event, get_settings().max_body_bytes)
        except ProblemError as err:
            builder: ResponseBuilder[Any] = ResponseBuilder(
                problem_response(err), serializer=self._serializer
            )
            return builder.build(self._to_proxy_event(dict(event)))
        return super().resolve(event, context)

    @staticmethod
    def _on_validation_error(err: RequestValidationError) -> Response[str]:
        return problem_response(validation_problem(err.errors()))

    @staticmethod
    def _on_unexpected(err: Exception) -> Response[str]:
        logger.exception("unhandled error")
        problem = ProblemError("An unexpected error occurred; it has been logged.")
        problem.status, problem.slug, problem.title = 500, "internal-error", "Internal error"
        return problem_response(problem)

    def tenant_id(self) -> str:
        """The tenant the authorizer resolved from the API key (never taken from the request)."""
        authorizer = self.current_event.request_context.authorizer.raw_event or {}
        tenant = authorizer.get("tenantId")
        if not tenant:
            raise Unauthorized("No tenant in the request context: is the authorizer configured?")
        return str(tenant)

    def header(self, name: str) -> str | None:
        return self.current_event.headers.get(name)

    def location(self, path: str) -> str:
        """A Location header for ``path`` (e.g. ``/workflows/wf_...``): under the stage the request
        came in on (``/v1/workflows/wf_...``), the path a client can GET on the same base URL."""
        stage = self.current_event.request_context.stage
        return f"/{stage}{path}" if stage else path


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _NumberOverflow(ValueError):
    """A JSON number that does not fit a double (``1e999``): refused, never stored as inf or null."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberOverflow(text)
    return value


def _finite_int(text: str) -> int:
    value = int(text)
    if len(text) > 300:  # only integers this long can exceed a double's range (~1.8e308)
        try:
            float(value)
        except OverflowError:
            raise _NumberOverflow(text[:20]) from None
    return value


def _refuse(reason: str) -> ValidationFailed:
    return ValidationFailed(f"The request body {reason}.", [FieldError("body", reason)])


def _json_event(event: Mapping[str, Any], limit: int) -> Mapping[str, Any]:
    body = event.get("body")
    if body is None or body == "":
        return event
    raw: bytes = base64.b64decode(body) if event.get("isBase64Encoded") else str(body).encode()
    if len(raw) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    try:
        text = raw.decode("utf-8")
        document = json.loads(
            text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_finite_int
        )
    except UnicodeDecodeError:
        raise _refuse("is not UTF-8") from None
    except _NumberOverflow:
        raise _refuse("holds a number that does not fit a double (e.g. 1e999)") from None
    except (ValueError, RecursionError):
        raise _refuse("is not valid JSON") from None
    if not isinstance(document, dict):
        # Powertools would read an array as its first element and hand null to optional bodies.
        raise _refuse(f"must be a JSON object, not {_json_kind(document)}")
    if json_depth(document) > MAX_JSON_DEPTH:
        raise _refuse(f"is nested deeper than {MAX_JSON_DEPTH} levels")
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    return {
        **event,
        "body": text,
        "isBase64Encoded": False,
        "headers": {**headers, "Content-Type": "application/json"},
        "multiValueHeaders": {**multi, "Content-Type": ["application/json"]},
    }


def _json_kind(document: Any) -> str:
    if document is None:
        return "null"
    if isinstance(document, list):
        return "an array"
    if isinstance(document, str):
        return "a string"
    if isinstance(document, bool):
        return "a boolean"
    return "a number"


def api_handler(app: Resolver) -> Any:
    """The Lambda entry point of an API function: logging with correlation ids, tracing, resolve."""
    from aws_lambda_powertools.logging import correlation_paths

    from orchestration_core.shared import tracing

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracing.capture_lambda_handler
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return lambda_handler
