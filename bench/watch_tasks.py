"""The task type ``bench.watch`` runs (``orchestration dev --tasks bench/watch_tasks.py``):
``hold`` holds until the benchmark creates ``<dir>/<key>.release``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

DEADLINE_SECONDS = 300.0


def hold(task: dict[str, Any]) -> dict[str, Any]:
    release = Path(task["parameters"]["dir"]) / f"{task['parameters']['key']}.release"
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not release.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.005)
    return {}


TASKS = {"hold": hold}
