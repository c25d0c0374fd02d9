"""Seeding the rest of a large table the way the runtime keeps its data between runs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

SEED_TEMPLATE_NAME = "bench-seed-template-7f3c"


def seed_data_dir(data_dir: Path, template_id: str, count: int) -> dict[str, Any]:
    """Add ``count`` copies of a workflow the API stored to the stopped runtime's saved data.

    Seeding 10,000 workflows over HTTP takes hours in the embedded runtime (every write costs
    O(stored items), see README), so the rest is written the way the runtime itself keeps its
    data between runs: its snapshot (DynamoDB JSON, one item a line) in the data directory,
    loaded at start. Nothing about the item layout is assumed beyond what the stored template shows:
    every item mentioning the template's id is copied with a new, older id (ids sort by
    creation time) and a new name, and the counter items of the list partitions the template
    belongs to (``COUNT#<GSInPK value>``) are raised by ``count``.
    """
    from orchestration_core.shared.ids import new_id

    from orchestration_local.durability import read_snapshot, rewrite_snapshot

    path, entries = read_snapshot(data_dir / "dynamodb")
    lines = [json.dumps(entry, separators=(",", ":")) for entry in entries]
    templates = [line for line in lines if template_id in line]
    if not templates:
        raise RuntimeError(f"no saved item holds {template_id}")
    partitions: set[str] = set()
    for line in templates:
        item = json.loads(line)["i"]
        partitions.update(
            v["S"] for k, v in item.items() if k.startswith("GSI") and k.endswith("PK") and "S" in v
        )
    name_json = json.dumps(SEED_TEMPLATE_NAME)
    oldest_ms = int(time.time() * 1000) - 86_400_000 - count  # a day ago, one millisecond apart
    counters = 0
    out: list[dict[str, Any]] = []
    for entry in entries:
        item = entry["i"]
        pk = item.get("PK", {}).get("S", "")
        if pk.startswith("COUNT#") and pk.removeprefix("COUNT#") in partitions and "N" in item.get("n", {}):
            item["n"]["N"] = str(int(item["n"]["N"]) + count)
            counters += 1
        out.append(entry)
    for i in range(count):
        new = new_id("wf", oldest_ms + i)
        for line in templates:
            out.append(
                json.loads(line.replace(template_id, new).replace(name_json, json.dumps(f"seed-{i:05d}")))
            )
    rewrite_snapshot(path, out)
    return {"workflows": count, "items_per_workflow": len(templates), "counters_raised": counters}
