"""Opaque list cursors (pure).

A ``nextToken`` carries the position after the last item returned (its id) and the offset that
position stands at, so ``offset`` in the response stays meaningful when paging by token. The
token names no partition: the store rebuilds the DynamoDB start key inside the caller's own
partition, so a forged token can move within the caller's list but never out of it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from orchestration_core.shared.errors import FieldError, ValidationFailed

_ID = re.compile(r"^[a-z]{2,4}_[0-9a-z]{10,40}$")


@dataclass(frozen=True)
class Cursor:
    offset: int
    after_id: str


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps({"o": cursor.offset, "k": cursor.after_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    invalid = ValidationFailed(
        "nextToken is not a token this API issued.", [FieldError("nextToken", "invalid token")]
    )
    if len(token) > 512:
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(data, dict) or set(data) != {"o", "k"}:
        raise invalid
    offset, after = data["o"], data["k"]
    if not (isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0):
        raise invalid
    if not (isinstance(after, str) and _ID.match(after)):
        raise invalid
    return Cursor(offset, after)


def resolve_position(offset: int, next_token: str | None) -> Cursor | int:
    """Either a cursor (when a token is given) or a plain offset; both at once is an error."""
    if next_token is None:
        return offset
    if offset:
        raise ValidationFailed(
            "Pass either offset or nextToken, not both.", [FieldError("offset", "not allowed with nextToken")]
        )
    return decode_cursor(next_token)


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_token: str | None
