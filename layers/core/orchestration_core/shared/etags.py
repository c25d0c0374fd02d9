"""Entity tags as the If-Match and If-None-Match headers carry them (RFC 9110 §8.8.3)."""

from __future__ import annotations

ANY = "*"


def entity_tags(header: str | None) -> frozenset[str]:
    """The tags a header lists (weak ``W/`` prefixes dropped: this API compares them strongly
    for GET and PUT alike); ``*`` stays ``*``. An absent or empty header lists none."""
    if not header:
        return frozenset()
    return frozenset(t.strip().removeprefix("W/") for t in header.split(",") if t.strip())
