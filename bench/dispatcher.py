"""Benchmark of the schedule dispatcher: one tick with N (default 10,000) due schedules.

In-process on the embedded runtime (moto; ``Runtime(tmpdir, persist=False)``), schedules are
written straight through the store, all due at the same slot. Then, in one run:

  baseline  raw conditional UpdateItem on the same table, from 1 thread and from the
            dispatcher's worker count, plain and claim-shaped (time-boxed)
  (b)       one ``dispatch_due`` tick with ``start_execution`` replaced by a no-op:
            the dispatcher alone (due-index Query, a consistent BatchGetItem per 100
            schedules, and one conditional write per schedule that records the fire)
  (a)       the next tick over the same schedules with the real start path (compile,
            execution record, Step Functions StartExecution; moto then runs each state
            machine in a thread of this process). Bounded by a time budget: what does not
            fit stays due, and the rate is over what was done. Its floor is start_execution
            called directly (no dispatcher) on the same table.

It reports schedules/second, the ratio to its floor, and whether N fit in one minute (the
rule's period). Read (a) with care: moto deep-copies the whole table for every operation of a
TransactWriteItems (the execution record is one), so on moto a start costs O(table size) and
(a) measures moto more than the dispatcher; (b) and the ratios are the dispatcher's figures.
(moto also keeps every copy alive; the run empties moto's instance tracker to stay in memory.)

    python -m bench.dispatcher            # 10,000 schedules, a few minutes
    python -m bench.dispatcher --quick    # 1,000 schedules, well under a minute

Prints a table and writes bench/results/dispatcher.json. The last line is the headline: (b)'s
fires/s over the raw conditional UpdateItem/s from the same number of threads, same run.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import environment, print_headline, table, write_results

SLOT = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # a Monday; every schedule is due at 09:00 UTC


def _progress(message: str) -> None:
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  .. {message} (max RSS {rss:,.0f} MiB)", file=sys.stderr, flush=True)


def _release_moto_copies(stop: threading.Event) -> None:
    """Work around a moto leak so a 10,000-schedule run fits in memory.

    moto's TransactWriteItems deep-copies the table for rollback, and moto's BaseModel tracks
    every instance it ever created (``instances_tracked``, used only by moto's reset), so each
    copied item stays alive: a transaction leaks a copy of the table. Emptying the lists drops
    nothing moto uses while running.
    """
    from moto.core.model_instances import model_data

    while not stop.wait(0.5):
        for model in model_data["dynamodb"].values():
            model.instances_tracked.clear()  # type: ignore[attr-defined]


def _quiet() -> None:
    """Keep per-task log lines of the task runner (moto runs every state machine) off the screen."""
    for name in ("orchestration", "orchestration_core", "botocore", "moto"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _create_schedules(n: int, tenant: str, workflow_id: str) -> None:
    """Write the schedules with BatchWriteItem and set their counters once.

    The store's create() is a transaction (item + counters); moto deep-copies the whole table
    for every operation of a transaction, so N creates would cost O(N^2) here. The items are
    exactly what create() writes (to_item), so the dispatcher sees real schedules.
    """
    from orchestration_core.schedules.models import Schedule
    from orchestration_core.schedules.store import memberships, to_item
    from orchestration_core.services import table
    from orchestration_core.shared import clock, ids
    from orchestration_core.shared.table import serialize

    tbl = table()
    stamp = clock.iso(SLOT - timedelta(hours=1))
    batch: list[dict[str, Any]] = []
    for i in range(n):
        sc = Schedule(
            id=ids.new_id("sc"),
            tenant_id=tenant,
            workflow_id=workflow_id,
            cron_expression="0 * * * *",
            timezone="UTC",
            parameters={"i": i},
            enabled=True,
            next_run_at=clock.iso(SLOT),
            created_at=stamp,
            updated_at=stamp,
            revision=1,
        )
        batch.append({"PutRequest": {"Item": serialize(to_item(sc))}})
        if len(batch) == 25 or i == n - 1:
            request: dict[str, Any] = {tbl.name: batch}
            while request:
                request = tbl.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            batch = []
    for partition in memberships(tenant, workflow_id).values():
        tbl.client.put_item(
            TableName=tbl.name, Item=serialize({"PK": f"COUNT#{partition}", "SK": "COUNT", "n": n})
        )


def _timed(calls: list[Any], workers: int, budget: float) -> tuple[int, float]:
    """Run the zero-argument ``calls`` (from ``workers`` threads) until done or ``budget``
    seconds passed; returns (calls made, seconds)."""
    deadline = time.perf_counter() + budget
    done = 0
    lock = threading.Lock()

    def run(call: Any) -> None:
        nonlocal done
        if time.perf_counter() > deadline:
            return
        call()
        with lock:
            done += 1

    began = time.perf_counter()
    if workers == 1:
        for call in calls:
            run(call)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, calls))
    return done, time.perf_counter() - began


def _baseline_updates(n: int, workers: int, claim_shaped: bool, budget: float) -> float:
    """Conditional UpdateItem calls per second on the template's table, on items of their own.

    Plain: ``SET x = :x, revision = :next IF revision = :r``. Claim-shaped: the expression
    and condition of a dispatcher claim (4 attributes set, a 4-part condition).
    """
    from orchestration_core.services import table
    from orchestration_core.shared.table import serialize

    tbl = table()
    tag = f"{workers}{'c' if claim_shaped else 'p'}"
    keys = [{"PK": f"BENCH#{tag}#{i}", "SK": "B"} for i in range(n)]
    for key in keys:
        tbl.client.put_item(
            TableName=tbl.name,
            Item=serialize(
                {**key, "revision": 1, "x": "a", "nextRunAt": "2030-01-07T09:00:00.000Z", "enabled": True}
            ),
        )
    if claim_shaped:
        expression = "SET #u0 = :u0, #u1 = :u1, #u2 = :u2, #u3 = :u3"
        condition = "#rev = :rev AND (#next = :read AND #enabled = :on AND attribute_not_exists(#pending))"
        names = {
            "#u0": "GSI2SK",
            "#u1": "nextRunAt",
            "#u2": "pendingFire",
            "#u3": "revision",
            "#rev": "revision",
            "#next": "nextRunAt",
            "#enabled": "enabled",
            "#pending": "pendingFire",
        }
        values = serialize(
            {
                ":u0": "2030-01-07T09:00:30.000Z#sc_01m8e9qd34chemgrxb8efwtzfj",
                ":u1": "2030-01-07T10:00:00.000Z",
                ":u2": {
                    "scheduledAt": "2030-01-07T09:00:00.000Z",
                    "executionId": "ex_01m8e9qd34chemgrxb8efwtzfj",
                    "retryAt": "2030-01-07T09:00:30.000Z",
                    "attempts": 1,
                },
                ":u3": 2,
                ":rev": 1,
                ":read": "2030-01-07T09:00:00.000Z",
                ":on": True,
            }
        )
    else:
        expression, condition, names = "SET x = :x, revision = :next", "revision = :r", None
        values = serialize({":x": "b", ":r": 1, ":next": 2})

    def update(key: dict[str, str]) -> None:
        kwargs: dict[str, Any] = {
            "TableName": tbl.name,
            "Key": serialize(key),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        tbl.client.update_item(**kwargs)

    done, seconds = _timed([lambda k=k: update(k) for k in keys], workers, budget)
    for key in keys:  # keep the table the size the dispatcher saw
        tbl.client.delete_item(TableName=tbl.name, Key=serialize(key))
    return done / seconds


def _baseline_starts(
    tenant: str, workflow_id: str, count: int, workers: int, budget: float
) -> tuple[int, float]:
    """Direct start_execution calls (no dispatcher) per second, same table, same moto."""
    from orchestration_core.executions import usecases as executions
    from orchestration_core.services import execution_services
    from orchestration_core.shared import ids

    svc = execution_services()

    def start() -> None:
        executions.start_execution(svc, tenant, workflow_id, {}, execution_id=ids.new_id("ex"))

    done, seconds = _timed([start] * count, workers, budget)
    return done, done / seconds


def _noop_start(*args: Any, **kwargs: Any) -> None:
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatcher", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 schedules instead of 10,000")
    parser.add_argument("-n", type=int, help="number of due schedules (overrides --quick)")
    args = parser.parse_args(argv)
    n = args.n or (1_000 if args.quick else 10_000)
    profile = QUICK if args.quick else FULL

    from orchestration_local.runtime import Runtime

    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(Path(tmp), persist=False)
        _quiet()
        stop = threading.Event()
        threading.Thread(target=_release_moto_copies, args=(stop,), daemon=True).start()
        try:
            results = _run(n, profile)
        finally:
            stop.set()
            runtime.close()
    elapsed = time.perf_counter() - began
    _print(n, args.quick, elapsed, results)
    path = write_results(
        "dispatcher",
        {
            "n": n,
            "quick": args.quick,
            "profile": profile,
            "elapsed_seconds": elapsed,
            **results,
            "environment": environment(),
        },
    )
    print(f"wrote {path}")
    print_headline(_headline(results))
    return 0


# On moto every start waits for whole-table copies under one lock, so the real-start phases
# use 2 workers (the same for the tick and its floor) to keep work in flight past the budget small.
QUICK = {"baseline_budget": 5.0, "real_budget": 15.0, "real_workers": 2, "direct_starts": 40}
FULL = {"baseline_budget": 15.0, "real_budget": 20.0, "real_workers": 2, "direct_starts": 100}


def _run(n: int, profile: dict[str, float]) -> dict[str, Any]:
    from orchestration_core.schedules.usecases import DEFAULT_WORKERS, dispatch_due
    from orchestration_core.services import execution_services, schedule_store, workflow_store
    from orchestration_core.workflows import usecases as workflows
    from orchestration_core.workflows.api import WorkflowCreate

    w = DEFAULT_WORKERS
    setup = time.perf_counter()
    tenant = "bench"
    request = WorkflowCreate.model_validate(
        {"name": "bench", "status": "active", "tasks": [{"name": "a", "type": "noop"}]}
    )
    wf = workflows.create_workflow(workflow_store(), tenant, request)
    _create_schedules(n, tenant, wf.id)
    setup_seconds = time.perf_counter() - setup
    _progress(f"{n:,} schedules written in {setup_seconds:.1f} s")

    budget = profile["baseline_budget"]
    baselines = {
        "update_1": _baseline_updates(n, 1, False, budget),
        "update_w": _baseline_updates(n, w, False, budget),
        "claim_w": _baseline_updates(n, w, True, budget),
    }
    _progress(f"baselines: {', '.join(f'{k} {v:,.0f}/s' for k, v in baselines.items())}")
    store, svc = schedule_store(), execution_services()

    # (b) the dispatcher alone: query, consistent re-read, one recording write; nothing started.
    noop = dispatch_due(SLOT + timedelta(seconds=1), store, svc, start=_noop_start)
    assert noop.started == n, noop.as_dict()
    _progress(f"(b) no-op tick: {noop.as_dict()}")

    # (a) the next slot over the same schedules, with the real start path, within a budget.
    real_workers = int(profile["real_workers"])
    real = dispatch_due(
        SLOT + timedelta(hours=1, seconds=1),
        store,
        svc,
        workers=real_workers,
        budget_seconds=profile["real_budget"],
    )
    real_processed = real.started + real.failed + real.retrying
    _progress(f"(a) real tick: {real.as_dict()}")
    # Its floor: start_execution called directly, on the same (now larger) table.
    direct_count, direct_rate = _baseline_starts(
        tenant, wf.id, int(profile["direct_starts"]), real_workers, profile["real_budget"]
    )

    def summary(report: Any, processed: int, floor: float) -> dict[str, Any]:
        rate = processed / report.seconds if report.seconds and processed else 0.0
        return {
            "processed": processed,
            "seconds": report.seconds,
            "per_second": rate,
            "ratio": rate / floor if floor else float("nan"),
            "minute_needed_seconds": n / rate if rate else float("inf"),
            "fits_one_minute": bool(rate) and n / rate <= 60,
            "report": report.as_dict(),
        }

    return {
        "setup_seconds": setup_seconds,
        "workers": w,
        "real_workers": real_workers,
        "baselines_per_second": baselines,
        "direct_start_execution": {"calls": direct_count, "per_second": direct_rate},
        "noop": summary(noop, noop.started, baselines["update_w"]),
        "real": summary(real, real_processed, direct_rate),
    }


def _print(n: int, quick: bool, elapsed: float, r: dict[str, Any]) -> None:
    w, b = r["workers"], r["baselines_per_second"]
    rows: list[list[Any]] = [
        ["raw conditional UpdateItem, 1 thread", b["update_1"], "", ""],
        [f"raw conditional UpdateItem, {w} threads", b["update_w"], "", ""],
        [f"claim-shaped conditional UpdateItem, {w} threads", b["claim_w"], "", ""],
        [
            f"start_execution called directly, {r['real_workers']} threads",
            r["direct_start_execution"]["per_second"],
            "",
            "",
        ],
    ]
    for key, label, floor in (
        ("noop", "(b) dispatch tick, start = no-op", "raw UpdateItem"),
        ("real", f"(a) dispatch tick, real start, {r['real_workers']} workers", "direct start_execution"),
    ):
        s = r[key]
        rows.append(
            [
                f"{label} ({s['processed']:,} done)",
                s["per_second"],
                f"{s['ratio']:.2f} of {floor}",
                f"{'yes' if s['fits_one_minute'] else 'no'} ({s['minute_needed_seconds']:,.0f} s)",
            ]
        )
    print(
        f"Schedule dispatcher: one tick with {n:,} due schedules, in-process on moto "
        f"({'quick' if quick else 'full'} run, {elapsed:.0f} s, setup {r['setup_seconds']:.0f} s)"
    )
    print(table(["measurement", "per second", "ratio", f"{n:,} in one minute?"], rows))
    noop_ratio = r["noop"]["per_second"] / b["claim_w"]
    print(
        f"(b) makes 1 conditional write per fire (it records the fire after the start): {noop_ratio:.2f} "
        "of the claim-shaped UpdateItem rate is spent on it."
    )
    for key in ("noop", "real"):
        print(f"  {key} report: {r[key]['report']}")


def _headline(r: dict[str, Any]) -> str:
    """The last line, for comparing runs: the dispatcher's rate (b) over the raw conditional write
    rate it sits on, both from the same threads in the same moto."""
    w, noop = r["workers"], r["noop"]
    return (
        f"dispatcher tick, start = no-op: x{noop['ratio']:.2f} (fires/s over raw conditional "
        f"UpdateItem/s, {w} threads, same run; {noop['per_second']:,.0f}/s over "
        f"{r['baselines_per_second']['update_w']:,.0f}/s)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
