"""The tables of (3), end to end."""

from __future__ import annotations

from typing import Any

from bench.harness import (
    table,
)


def print_end_to_end(result: dict[str, Any]) -> None:
    print()
    rows = []
    for shape, r in result["shapes"].items():
        e, h = r["engine"], r["hand_written"]
        rows.append(
            [
                f"{shape} of {result['tasks']}",
                e["median_wall_s"] * 1000,
                h["median_wall_s"] * 1000,
                f"{r['ratio_wall']:.2f}",
                r["overhead_ms_per_task_wall"],
                e["median_record_s"] * 1000,
                h["median_record_s"] * 1000,
                f"{r['ratio_record']:.2f}",
                e["median_cpu_s"] * 1000,
                h["median_cpu_s"] * 1000,
                f"{r['ratio_cpu']:.2f}",
                r["overhead_cpu_ms_per_task"],
            ]
        )
    print(
        table(
            [
                "workflow",
                "engine ms",
                "hand ASL ms",
                "ratio",
                "overhead ms/task",
                "engine rec. ms",
                "hand rec. ms",
                "rec. ratio",
                "engine CPU ms",
                "hand CPU ms",
                "CPU ratio",
                "CPU ms/task",
            ],
            rows,
        )
    )
    print(
        f"(median of {result['runs']} warm runs; wall = start call until the client's poll, every "
        f"{result['poll_seconds'] * 1000:.0f} ms, sees the end; rec. = the record's completedAt - startedAt "
        "/ Step Functions' stopDate - startDate; CPU = this process's CPU time, all threads, during the run; "
        f"load average {result['load_before']} before, {result['load_after']} after)"
    )
    print()
    rows = []
    for shape, r in result["shapes"].items():
        e, h = r["engine"], r["hand_written"]
        rows.append(
            [
                shape,
                e["median_execute_call_s"] * 1000,
                e["median_before_first_task_s"] * 1000,
                e["median_tasks_span_s"] * 1000,
                e["median_after_last_task_s"] * 1000,
                e["runner_invocations"],
                e["median_runner_seconds"] * 1000,
                sum(e["runner_dynamodb_requests"].values()),
                e["median_runner_dynamodb_seconds"] * 1000,
                e["history_events"] if e["history_events"] is not None else "-",
                h["history_events"],
                e["cold_wall_s"] * 1000,
                (h["cold_wall_s"] + h["create_state_machine_s"]) * 1000,
            ]
        )
    print(
        table(
            [
                "engine",
                "POST execute ms",
                "to 1st task ms",
                "tasks span ms",
                "last task to end ms",
                "runner calls",
                "in runner ms",
                "runner DDB reqs",
                "in DDB ms",
                "events",
                "hand events",
                "cold ms",
                "hand cold ms",
            ],
            rows,
        )
    )
    print(
        "(in runner = summed time inside the task runner Lambda (parallel calls add up); runner DDB = its "
        "DynamoDB requests and the time in moto's DynamoDB handler, waiting for the runtime's lock included; "
        "events = execution history events; cold = first run, which creates the state machine)"
    )
    print()
    print("moto's parse of the whole definition (ANTLR), paid once per machine (memoised by the runtime):")
    for shape, r in result["shapes"].items():
        for who, d in (("engine", r["engine"]), ("hand-written", r["hand_written"])):
            if d["moto_parse_s"] is not None:
                print(
                    f"  {shape:5} {who:12} {d['definition_bytes']:>9,} bytes"
                    f"  {d['moto_parse_s'] * 1000:7.1f} ms CPU"
                )
    probe = result.get("moto_parse_probe")
    if probe and probe["moto_parse_s"] is not None:
        print(
            f"  random-{probe['tasks']} noop  {probe['definition_bytes']:>9,} bytes  "
            f"{probe['moto_parse_s'] * 1000:7.1f} ms CPU"
            f"  (~{probe['moto_parse_s'] * 1e6 / probe['definition_bytes']:.1f} ms per KB)"
        )
