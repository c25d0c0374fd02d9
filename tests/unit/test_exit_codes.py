"""A watched run's exit code never collides with a usage error's (2)."""

from __future__ import annotations

import pytest

from orchestration_local.client import exit_code


@pytest.mark.parametrize(("status", "code"), [("completed", 0), ("failed", 1), ("cancelled", 3)])
def test_a_watched_run_exits_by_how_it_ended(status: str, code: int) -> None:
    assert exit_code({"status": status}) == code
