"""The list semantics of Table.list_page over an in-memory list (newest first by id)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from orchestration_core.shared.pagination import Cursor, Page, encode_cursor

T = TypeVar("T")


def page_of(items: Iterable[T], key: Callable[[T], str], limit: int, position: Cursor | int) -> Page[T]:
    """Newest first (ids sort by creation time); a cursor resumes right after its id, an offset
    skips that many; ``nextToken`` only when a full page leaves more behind."""
    ordered = sorted(items, key=key, reverse=True)
    total = len(ordered)
    if isinstance(position, Cursor):
        rest = [i for i in ordered if key(i) < position.after_id]
        first = position.offset
    else:
        rest, first = ordered[position:], position
    chosen = rest[:limit]
    more = first + len(chosen) < total and len(chosen) == limit
    token = encode_cursor(Cursor(first + len(chosen), key(chosen[-1]))) if more and chosen else None
    return Page(items=chosen, total=total, limit=limit, offset=first, next_token=token)
