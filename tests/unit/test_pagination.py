"""Cursor encoding and the offset/nextToken rules."""

from __future__ import annotations

import base64
import json

import pytest
from orchestration_core.shared.errors import ValidationFailed
from orchestration_core.shared.ids import new_id
from orchestration_core.shared.pagination import Cursor, decode_cursor, encode_cursor, resolve_position


def test_cursor_round_trips_and_is_url_safe() -> None:
    cursor = Cursor(offset=150, after_id=new_id("wf"))
    token = encode_cursor(cursor)
    assert decode_cursor(token) == cursor
    assert all(c.isalnum() or c in "-_" for c in token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "%%%",
        "not-base64!",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(
            json.dumps({"o": -1, "k": "wf_01m8e8qe8yp80v7b9yt0t30521"}).encode()
        ).decode(),
        base64.urlsafe_b64encode(json.dumps({"o": 1, "k": "T#other#WF"}).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"o": True, "k": "wf_01m8e8qe8yp80v7b9yt0t30521"}).encode()
        ).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"o": 1, "k": "wf_01m8e8qe8yp80v7b9yt0t30521", "x": 1}).encode()
        ).decode(),
        "A" * 600,
    ],
)
def test_garbage_tokens_are_a_400_on_nextToken(token: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        decode_cursor(token)
    assert info.value.errors[0].field == "nextToken"


def test_offset_and_token_together_are_rejected() -> None:
    token = encode_cursor(Cursor(3, new_id("wf")))
    with pytest.raises(ValidationFailed):
        resolve_position(3, token)
    assert resolve_position(0, token) == decode_cursor(token)
    assert resolve_position(7, None) == 7


def test_ids_sort_by_creation_time() -> None:
    earlier, later = new_id("wf", now_ms=1_000), new_id("wf", now_ms=2_000)
    assert earlier < later
    assert len(earlier) == len("wf_") + 26
