"""API keys: the key, its hash and the bearer token; ``auth/store.py`` keeps them (hashes only).

A key is ``orch_`` + 43 URL-safe random characters (256 bits). Its hash is the item key, so a
lookup is one GetItem; the stored hash is still compared in constant time before a key is
accepted. The plaintext is returned once, at creation, and never stored or logged.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from orchestration_core.shared.errors import Unauthorized

KEY_PREFIX = "orch_"
_BEARER = re.compile(r"^\s*Bearer\s+(\S+)\s*$", re.IGNORECASE)
TENANT_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
MAX_KEY_NAME = 128
TENANT = re.compile(TENANT_PATTERN)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    tenant_id: str
    name: str
    created_at: str
    revoked_at: str | None


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_plaintext_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def bearer_token(authorization: str | None) -> str:
    """The key from an ``Authorization: Bearer <key>`` header value, or Unauthorized."""
    match = _BEARER.match(authorization or "")
    if not match:
        raise Unauthorized("Send the API key as 'Authorization: Bearer <key>'.")
    return match.group(1)
