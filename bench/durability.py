"""What durability costs the embedded runtime: write throughput with the journal against the
same runtime with journaling off, recovery time, and the snapshot pause.

1. ``orchestration dev`` as a subprocess, once with the journal (every write fsynced before it
   is answered, group commit) and once with ``--no-persist`` (nothing kept), alternating,
   ``--rounds`` times each: a fixed count of POST /workflows (10-task diamond) from a few
   concurrent keep-alive clients. The best round of each counts.
2. In this process (moto started as the runtime starts it): a journal of N records, each a
   stored workflow item copied from the journaled run, loaded into moto as a start does; then
   the snapshot taken from it (the pause under the store's lock and the whole write), and the
   start from that snapshot.

    python -m bench.durability            # ~1 minute
    python -m bench.durability --quick    # ~20 seconds

The LAST line printed is the ratio ``journal/no-journal write throughput ratio: R`` (goal
>= 0.7). Writes bench/results/durability.json.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.harness import (
    Client,
    ClientThreads,
    DevServer,
    diamond_workflow,
    environment,
    percentile,
    print_headline,
    table,
    write_results,
)


def write_burst(server: DevServer, clients: int, count: int) -> dict[str, Any]:
    """``count`` POST /workflows from ``clients`` threads (one connection each), all must be 201."""
    conns = [Client(server.url, server.api_key) for _ in range(clients)]
    conns[0].json("POST", "/workflows", diamond_workflow("warm-up"), expect=201)
    latencies: list[list[float]] = [[] for _ in conns]
    errors: list[str] = []
    per_client = count // clients

    def work(i: int) -> None:
        for n in range(per_client):
            began = time.perf_counter()
            status, body = conns[i].request("POST", "/workflows", diamond_workflow(f"bench-{i}-{n}"))
            latencies[i].append(time.perf_counter() - began)
            if status != 201:
                errors.append(f"{status} {body[:200]!r}")

    group = ClientThreads(work, clients)
    cpu_before = server.cpu_seconds()
    group.release()
    began = time.perf_counter()
    group.join()
    elapsed = time.perf_counter() - began
    cpu = server.cpu_seconds() - cpu_before
    for c in conns:
        c.close()
    if errors:
        raise RuntimeError(f"{len(errors)} writes failed, e.g. {errors[0]}")
    done = sorted(x for lat in latencies for x in lat)
    return {
        "requests": len(done),
        "seconds": elapsed,
        "rps": len(done) / elapsed,
        "p50_ms": percentile(done, 50) * 1000,
        "p99_ms": percentile(done, 99) * 1000,
        "srv_cpu_ms_per_req": cpu / len(done) * 1000,
    }


def throughput(workdir: Path, clients: int, count: int, rounds: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"journal": [], "no-journal": []}
    for r in range(rounds):
        for mode in ("no-journal", "journal"):  # alternating, so drift hits both alike
            (workdir / f"{mode}-{r}").mkdir()
            server = DevServer(
                workdir / f"{mode}-{r}",
                f"orch_{secrets.token_hex(16)}",
                *(["--no-persist"] if mode == "no-journal" else []),
            )
            server.start()
            try:
                row = write_burst(server, clients, count)
            finally:
                stop = server.stop()
            row.update(mode=mode, round=r + 1, stopped_cleanly=stop["exit_code"] == 0 and stop["saved"])
            runs[mode].append(row)
            print(
                f"  {mode:<10} round {r + 1}: {row['rps']:7.1f} writes/s  p50 {row['p50_ms']:6.1f} ms  "
                f"p99 {row['p99_ms']:6.1f} ms  srv CPU {row['srv_cpu_ms_per_req']:5.1f} ms/req",
                flush=True,
            )
    best = {mode: max(rows, key=lambda row: row["rps"]) for mode, rows in runs.items()}
    return {"runs": runs, "best": best, "journal_data_dir": str(workdir / "journal-0" / "data")}


@contextmanager
def _started_from(directory: Path, template: Any) -> Iterator[tuple[Any, Any, float]]:
    """moto started as the runtime starts it and the data directory loaded into it: the store,
    the load's report and its seconds. The store is closed and moto stopped afterwards."""
    from orchestration_local import aws
    from orchestration_local.runtime import local_names

    mock = aws.start_moto()
    try:
        aws.create_tables(template.tables, local_names(template))
        began = time.perf_counter()
        store, report = aws.open_store(directory)
        seconds = time.perf_counter() - began
        yield store, report, seconds
        store.close()
        aws.attach_store(None)
    finally:
        mock.stop()


def recovery(journal_data_dir: Path, records: int, workdir: Path) -> dict[str, Any]:
    """Start-up from a journal of ``records`` records, then the snapshot and start-up from it."""
    from orchestration_local import durability
    from orchestration_local.template import load_template

    _, entries = durability.read_snapshot(journal_data_dir / "dynamodb")
    sample = max((e for e in entries if e["k"]["PK"]["S"].startswith("T#")), key=lambda e: len(json.dumps(e)))
    pk = sample["k"]["PK"]["S"]
    directory = workdir / "recovery" / "dynamodb"
    directory.mkdir(parents=True)
    line_bytes = 0
    with (directory / durability.segment_name(1)).open("wb") as out:
        text = json.dumps(sample["i"], separators=(",", ":"))
        for seq in range(1, records + 1):
            item = text.replace(pk, f"{pk}-{seq}")
            key = json.dumps(sample["k"], separators=(",", ":")).replace(pk, f"{pk}-{seq}")
            line = durability.frame(
                f'{{"seq":{seq},"ops":[{{"t":{json.dumps(sample["t"])},"k":{key},"i":{item}}}]}}'
            )
            line_bytes += len(line)
            out.write(line)

    template = load_template(Path(__file__).resolve().parents[1] / "template.yaml")
    with _started_from(directory, template) as (store, report, journal_seconds):
        assert report.records == records, report
        began = time.perf_counter()
        assert store.snapshot()
        snapshot_seconds = time.perf_counter() - began
        pause_ms = store.stats["last_snapshot_pause_ms"]
    snapshot_bytes = sum(p.stat().st_size for p in directory.glob("snapshot-*"))
    with _started_from(directory, template) as (store, report, snapshot_load_seconds):
        assert report.items >= records, report
    return {
        "records": records,
        "item_bytes": len(json.dumps(sample["i"])),
        "journal_bytes": line_bytes,
        "start_from_journal_s": journal_seconds,
        "records_per_s": records / journal_seconds,
        "snapshot_pause_under_lock_ms": pause_ms,
        "snapshot_write_s": snapshot_seconds,
        "snapshot_bytes": snapshot_bytes,
        "start_from_snapshot_s": snapshot_load_seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durability", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer writes and records")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--writes", type=int, help="POST /workflows per run (default 400; 120 with --quick)")
    parser.add_argument("--rounds", type=int, help="runs of each mode (default 2; 1 with --quick)")
    parser.add_argument("--records", type=int, help="journal records to recover (default 10,000)")
    args = parser.parse_args(argv)
    writes = args.writes or (120 if args.quick else 400)
    rounds = args.rounds or (1 if args.quick else 2)
    records = args.records or (2_000 if args.quick else 10_000)

    with tempfile.TemporaryDirectory(prefix="bench-durability-") as scratch:
        workdir = Path(scratch)
        print(
            f"write throughput: {writes} POST /workflows, {args.clients} clients, {rounds} round(s)",
            flush=True,
        )
        result = throughput(workdir, args.clients, writes, rounds)
        best = result["best"]
        print(f"\nrecovery: a journal of {records:,} stored-workflow records", flush=True)
        rec = recovery(Path(result["journal_data_dir"]), records, workdir)

    print()
    print(
        table(
            ["mode", "writes/s", "p50 ms", "p99 ms", "srv CPU ms/req"],
            [
                [m, best[m]["rps"], best[m]["p50_ms"], best[m]["p99_ms"], best[m]["srv_cpu_ms_per_req"]]
                for m in ("journal", "no-journal")
            ],
        )
    )
    print()
    print(
        table(
            ["recovery", "value"],
            [
                ["journal records", rec["records"]],
                ["journal MiB", rec["journal_bytes"] / 2**20],
                ["start from journal s", rec["start_from_journal_s"]],
                ["records/s replayed", rec["records_per_s"]],
                [
                    f"snapshot pause under lock ms ({rec['records']:,} items)",
                    rec["snapshot_pause_under_lock_ms"],
                ],
                ["snapshot write s", rec["snapshot_write_s"]],
                ["snapshot MiB", rec["snapshot_bytes"] / 2**20],
                ["start from snapshot s", rec["start_from_snapshot_s"]],
            ],
        )
    )
    ratio = best["journal"]["rps"] / best["no-journal"]["rps"]
    path = write_results(
        "durability",
        {
            "environment": environment(),
            "writes": writes,
            "clients": args.clients,
            "throughput": result["runs"],
            "recovery": rec,
            "ratio": ratio,
        },
    )
    print(f"\nresults: {path}")
    print_headline(f"journal/no-journal write throughput ratio: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
