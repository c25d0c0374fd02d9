"""An http task never waits longer than the task runner's Lambda can live."""

from __future__ import annotations

from typing import Any

import pytest
from orchestration_core.shared.config import settings_from, settings_source
from orchestration_core.tasktypes import netguard
from orchestration_core.tasktypes import registry as tasktypes


@pytest.mark.parametrize(("asked", "used"), [(None, 30.0), (5, 5.0), (870, 870.0), (86_400, 870.0)])
def test_the_request_timeout_is_capped_below_the_runner_timeout(
    monkeypatch: pytest.MonkeyPatch, asked: int | None, used: float
) -> None:
    seen: list[float] = []

    def fetch(method: str, url: str, headers: Any, data: Any, timeout: float, *rest: Any) -> Any:
        seen.append(timeout)
        raise OSError("not reached")

    monkeypatch.setattr(netguard, "fetch", fetch)
    config: dict[str, Any] = {"url": "https://example.com/"}
    if asked is not None:
        config["timeoutSeconds"] = asked
    token = settings_source.set(lambda: settings_from({"TABLE_NAME": "t"}))  # the runner's settings
    try:
        with pytest.raises(tasktypes.TaskError):
            tasktypes.run_builtin("http", config, {})
    finally:
        settings_source.reset(token)
    assert seen == [used]
