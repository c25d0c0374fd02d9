"""Benchmark of a list call while the table holds other tenants' records.

In-process on the embedded runtime (moto; ``Runtime(tmpdir, persist=False)``). One tenant
creates 25 workflows through the API; then the table is filled with the records of N other
tenants' workflows (copies of real ones under other tenant ids, written with BatchWriteItem).
Then, in one run, ``GET /workflows`` of the first tenant (its 25 workflows) is timed:

  partition  as the embedded runtime runs it: its Query hook hands moto only the items whose
             index key matches (``orchestration_local/aws.py``)
  baseline   moto's own Query (the hook's ``__wrapped__``), which sorts every item of the
             table and compares each through DynamoType casts

    python -m bench.lists            # 20,000 other workflows
    python -m bench.lists --quick    # 2,000

Prints a table and writes bench/results/lists.json. The last line is the headline: the list's
median time with the partition read over moto's own Query, same run, same table.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench.harness import Api, environment, print_headline, start_runtime, table, time_call, write_results

OWN_WORKFLOWS = 25
TASKS: list[dict[str, Any]] = [
    {"name": "a", "type": "noop"},
    {"name": "b", "type": "noop", "dependsOn": ["a"]},
]


def _rename(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _rename(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, old, new) for v in value]
    return value


def _fill(table_name: str, tenant: str, others: int) -> int:
    """Copies of one of ``tenant``'s workflow items under ``others`` other tenant ids; returns
    how many items the table holds."""
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    scan = client.get_paginator("scan").paginate(TableName=table_name)
    workflow = next(
        item for page in scan for item in page["Items"] if item["PK"]["S"].startswith(f"T#{tenant}#WF#")
    )
    batch: list[Any] = []
    for n in range(others):
        batch.append({"PutRequest": {"Item": _rename(workflow, tenant, f"other-{n:06d}")}})
        if len(batch) == 25:
            client.batch_write_item(RequestItems={table_name: batch})
            batch = []
    if batch:
        client.batch_write_item(RequestItems={table_name: batch})
    return int(client.describe_table(TableName=table_name)["Table"]["ItemCount"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lists", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 other workflows instead of 20,000")
    parser.add_argument("-n", type=int, default=None, help="other tenants' workflows to store")
    args = parser.parse_args(argv)
    others = args.n if args.n is not None else (2_000 if args.quick else 20_000)
    logging.getLogger("orchestration").setLevel(logging.ERROR)

    from moto.dynamodb.models.table import Table

    with tempfile.TemporaryDirectory() as tmp:
        runtime, _, _ = start_runtime(Path(tmp))
        try:
            tenant = f"lists-{uuid.uuid4().hex[:8]}"
            api = Api(runtime, runtime.key_store().create(tenant, "bench/lists.py")[0])
            for n in range(OWN_WORKFLOWS):
                api.create(f"own-{n}", TASKS)
            items = _fill(runtime.names["Table"], tenant, others)

            def list_once() -> None:
                status, body = api.call("GET", "/workflows")
                if status != 200 or len(body["workflows"]) != OWN_WORKFLOWS:
                    raise RuntimeError(f"GET /workflows: {status} {body}")

            hooked: Any = Table.query
            partition = time_call(list_once, runs=7)
            Table.query = hooked.__wrapped__  # type: ignore[method-assign]
            try:
                baseline = time_call(list_once, runs=3)
            finally:
                Table.query = hooked  # type: ignore[method-assign]
        finally:
            runtime.close()

    rows = [
        ["partition read (the runtime)", f"{partition * 1000:.2f}"],
        ["moto's own Query (baseline)", f"{baseline * 1000:.2f}"],
    ]
    print(
        f"GET /workflows of one tenant ({OWN_WORKFLOWS} workflows),"
        f" {items:,} items in the table ({others:,} other workflows)"
    )
    print(table(["Query", "median ms"], rows))
    path = write_results(
        "lists",
        {
            "environment": environment(),
            "other_workflows": others,
            "items": items,
            "partition_ms": partition * 1000,
            "baseline_ms": baseline * 1000,
        },
    )
    print(f"results: {path}")
    print_headline(
        f"lists: GET /workflows with {items:,} items stored: {partition * 1000:.1f} ms reading the partition,"
        f" {baseline * 1000:.1f} ms with moto's own Query: x{partition / baseline:.3f} (same run)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
