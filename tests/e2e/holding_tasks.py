"""Task types for the restart tests, loaded by `orchestration dev --tasks` (a file, as users do).

``hold`` marks each start with a file and holds until the test creates a release file: the
test synchronises on those files, never on time. Parameters: ``dir`` and ``key``.
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


TASKS = {"hold": hold}
