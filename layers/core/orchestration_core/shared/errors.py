"""Errors of the core, in two kinds.

- ``ProblemError`` and its subclasses: an error the client caused or can act on, carrying the
  HTTP status and RFC 9457 fields it is answered with (see http.py).
- ``TransientFailure`` and its subclasses: a dependency (the table, Step Functions) could not do
  the work right now; retrying shortly may succeed. They carry no HTTP meaning: the store and
  engine adapters raise them, callers that retry catch them, and http.py alone maps them to a
  429 or 503 problem.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ProblemError(Exception):
    """An error the client caused or can act on; rendered as application/problem+json."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class ValidationFailed(ProblemError):
    status, slug, title = 400, "validation-error", "Invalid request"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(ProblemError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class Unprocessable(ProblemError):
    status, slug, title = 422, "unprocessable", "Unprocessable request"


class Throttled(ProblemError):
    status, slug, title = 429, "throttled", "Too many requests"


class Unavailable(ProblemError):
    status, slug, title = 503, "unavailable", "Service unavailable"


# -- transient failures of a dependency: no HTTP meaning (http.py maps them) --------------------
class TransientFailure(Exception):
    """A dependency could not do the work right now; the same request may succeed shortly."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class StoreThrottled(TransientFailure):
    """The table throttled the request (or left reads unprocessed after every retry)."""


class ConcurrentUpdate(TransientFailure):
    """A transaction kept losing to conflicting writes of the same items until its retries ran out."""


class StoreUnavailable(TransientFailure):
    """The table could not keep the write (the embedded runtime's ``PersistenceUnavailable``)."""


class EngineThrottled(TransientFailure):
    """Step Functions throttled the request."""


class EngineUnavailable(TransientFailure):
    """Step Functions refused the request for a reason of its own (a service error, a limit)."""
