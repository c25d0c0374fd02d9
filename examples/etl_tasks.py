"""The seed's extract -> transform -> load example as local task types.

Run the service with them:   make dev ARGS="--tasks examples/etl_tasks.py"

Each callable receives the task input ``{"parameters", "inputs", "config"}`` (``inputs`` holds
the results of the task's dependencies by name) and returns the task's result (JSON).
Raising an exception fails the task; its class name is the error name retries match on.
"""

from __future__ import annotations

import time
from typing import Any


def extract(task: dict[str, Any]) -> dict[str, Any]:
    rows = int(task["parameters"].get("rows", 5))
    time.sleep(float(task["config"].get("seconds", 0.5)))
    return {"records": [{"id": i, "amount": i * 10} for i in range(rows)]}


def transform(task: dict[str, Any]) -> dict[str, Any]:
    records = task["inputs"]["extract"]["records"]
    time.sleep(float(task["config"].get("seconds", 0.5)))
    return {"records": [{**r, "amount_eur": round(r["amount"] * 0.92, 2)} for r in records]}


def load(task: dict[str, Any]) -> dict[str, Any]:
    records = task["inputs"]["transform"]["records"]
    time.sleep(float(task["config"].get("seconds", 0.5)))
    return {"loaded": len(records), "total_eur": sum(r["amount_eur"] for r in records)}


TASKS = {"data-extraction": extract, "data-transformation": transform, "data-loading": load}
