"""Identifiers: opaque to clients, URL-safe, and sortable by creation time.

``new_id("wf")`` gives ``wf_`` + 26 Crockford base32 characters (48-bit millisecond time,
80 random bits), so ids sort in creation order and index sort keys need no extra timestamp.
"""

from __future__ import annotations

import hashlib
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str, now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{prefix}_{_b32(ms, 10)}{_b32(secrets.randbits(80), 16)}"


def derived_id(prefix: str, *parts: str) -> str:
    """A stable id from its parts (e.g. a task id from workflow id and task name)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return f"{prefix}_{_b32(int.from_bytes(digest[:15], 'big'), 24)}"
