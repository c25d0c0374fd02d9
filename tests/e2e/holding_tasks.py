"""Task types for the end-to-end tests, loaded by `orchestration dev --tasks` (a file, as users do).

``hold`` marks each start with a file (``<key>.started.<n>``) and holds until the test creates
``<key>.release``; ``flaky`` fails the first time it runs for a key and succeeds after, so a
redriven run completes. Parameters: ``dir`` and ``key``. The tests synchronise on those
files, never on time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

DEADLINE_SECONDS = 120.0


def hold(task: dict[str, Any]) -> dict[str, Any]:
    folder, key = Path(task["parameters"]["dir"]), str(task["parameters"]["key"])
    starts = len(list(folder.glob(f"{key}.started.*"))) + 1
    (folder / f"{key}.started.{starts}").touch()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (folder / f"{key}.release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.02)
    return {"start": starts}


def flaky(task: dict[str, Any]) -> dict[str, Any]:
    marker = Path(task["parameters"]["dir"]) / f"{task['parameters']['key']}.failed-once"
    if not marker.exists():
        marker.touch()
        raise RuntimeError("the first run of this task fails")
    return {"ok": True}


TASKS = {"hold": hold, "flaky": flaky}
