"""``python -m bench.load``: the options, the run, the tables, the checks' summary, the verdict
and the results file."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import load as package
from bench.harness import REPO, environment, percentile, print_headline, table, write_results
from bench.load.model import EX_TERMINAL, FULL, MIX, QUICK, Profile, Stats, Tenant, loadavg, other_benchmarks
from bench.load.run import run
from bench.load.verify import Verdict

DESCRIPTION = (package.__doc__ or "").split("\n")[0]


def op_rows(stats: Stats, elapsed: float | None) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    rows, records = [], []
    for label in sorted(stats.ops, key=lambda k: (-len(stats.ops[k].latencies), k)):
        s = stats.ops[label]
        lat = sorted(s.latencies)
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(s.statuses.items()))
        rec = {
            "op": label,
            "requests": len(lat),
            "rps": len(lat) / elapsed if elapsed else None,
            "p50_ms": percentile(lat, 50) * 1000,
            "p95_ms": percentile(lat, 95) * 1000,
            "p99_ms": percentile(lat, 99) * 1000,
            "statuses": dict(s.statuses),
            "errors": s.unexpected,
            "server_errors": s.server_errors,
            "conn_errors": s.conn_errors,
        }
        records.append(rec)
        rows.append(
            [
                label,
                len(lat),
                rec["rps"] if elapsed else float("nan"),
                rec["p50_ms"],
                rec["p95_ms"],
                rec["p99_ms"],
                s.unexpected,
                statuses,
            ]
        )
    return rows, records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="15 s of load instead of 60 s")
    parser.add_argument("--duration", type=float, help="seconds of load")
    parser.add_argument("--threads", type=int, help="client threads (one connection each)")
    parser.add_argument("--tenants", type=int, help="tenants the clients are spread over")
    parser.add_argument("--max-requests", type=int, help="hard cap on requests in the load phase")
    parser.add_argument(
        "--delete-weight", type=int, default=MIX["delete"], help="weight of deletes (0: none)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the clients")
    parser.add_argument("--keep", action="store_true", help="keep the server's data directory and logs")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    overrides = {
        "duration": args.duration,
        "threads": args.threads,
        "tenants": args.tenants,
        "max_requests": args.max_requests,
    }
    profile = Profile(**{**profile.__dict__, **{k: v for k, v in overrides.items() if v is not None}})
    weights = {**MIX, "delete": max(0, args.delete_weight)}
    total_weight = sum(weights.values())

    others = other_benchmarks()
    print(
        f"load benchmark ({'quick' if args.quick else 'full'}): {os.cpu_count()} CPUs, "
        f"load average {loadavg()}; other benchmarks running: {'yes' if others else 'no'}"
    )
    for line in others:
        print(f"  ! running alongside: {line}")
    print("mix: " + ", ".join(f"{op} {100 * w / total_weight:.1f}%" for op, w in weights.items() if w))

    workdir = Path(tempfile.mkdtemp(prefix="orch-load-"))
    started = time.perf_counter()
    ok_run = False
    try:
        res = run(profile, weights, args.seed, workdir)
        ok_run = True
    finally:
        if args.keep or not ok_run:
            print(f"server data and logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    others_after = other_benchmarks()

    load: Stats = res["load_stats"]
    verify_stats: Stats = res["verify_stats"]
    v: Verdict = res["verdict"]
    tenants: list[Tenant] = res["tenants"]
    elapsed = res["load"]["seconds"]
    rows, records = op_rows(load, elapsed)
    all_lat = sorted(x for s in load.ops.values() for x in s.latencies)
    all_status: Counter[str] = Counter()
    for s in load.ops.values():
        all_status.update(s.statuses)
    load_errors = sum(s.unexpected for s in load.ops.values())
    rows.append(
        [
            "all",
            len(all_lat),
            len(all_lat) / elapsed,
            percentile(all_lat, 50) * 1000,
            percentile(all_lat, 95) * 1000,
            percentile(all_lat, 99) * 1000,
            load_errors,
            " ".join(f"{k}:{n}" for k, n in sorted(all_status.items())),
        ]
    )
    print()
    print(
        f"load phase: {profile.threads} clients, {profile.tenants} tenants, {elapsed:.1f}s, "
        f"{res['load']['requests']:,} requests = {res['load']['rps']:.1f} req/s"
        f"{' (request cap reached)' if res['load']['capped'] else ''}; "
        f"server CPU {res['load']['server_cpu_seconds']:.1f}s"
        f" ({100 * res['load']['server_cpu_seconds'] / elapsed:.0f}% of one core,"
        f" {res['load']['server_cpu_ms_per_request']:.1f} ms per request)"
    )
    print(
        f"req/s by {res['load']['window_seconds']:.0f} s window (as the tables grow): "
        + ", ".join(f"{x:.1f}" for x in res["load"]["rps_by_window"])
    )
    print(table(["operation", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "statuses"], rows))

    vrows, vrecords = op_rows(verify_stats, None)
    verify_errors = sum(s.unexpected for s in verify_stats.ops.values())
    print()
    print(f"verification ({res['verify_seconds']:.1f}s)")
    print(
        table(
            ["request", "requests", "p50 ms", "p95 ms", "p99 ms", "errors", "statuses"],
            [[r[0], r[1], r[3], r[4], r[5], r[6], r[7]] for r in vrows],
        )
    )
    acked_creates = sum(len(t.wfs) for t in tenants)
    deleted = sum(1 for t in tenants for w in t.wfs.values() if w.deleted)
    acked_updates = sum(len(w.acked) - 1 for t in tenants for w in t.wfs.values())
    executions = sum(len(t.executions) for t in tenants)
    keys = sum(1 for t in tenants for k in t.keys if k.ids)
    print()
    print(
        f"acknowledged: {acked_creates:,} creates (seed included), {deleted:,} deletes, "
        f"{acked_updates:,} update revisions, {executions:,} executions ({keys:,} Idempotency-Keys)"
    )
    print(
        "per tenant (live workflows / executions): "
        + ", ".join(
            f"{t.name} {sum(1 for w in t.wfs.values() if not w.deleted)}/{len(t.executions)}" for t in tenants
        )
    )
    print(
        f"executions at the end: {dict(v.exec_status)}; lost creates {v.lost_creates}, lost updates "
        f"{v.lost_updates}, lost executions {v.lost_executions}, "
        f"unacknowledged revisions {v.phantom_writes}, "
        f"deleted yet readable {v.deleted_readable}, unverifiable {v.unverifiable}"
    )
    print(
        f"totals checked: {v.totals_checked} (each walked with nextToken); wrong: {len(v.totals_wrong)}; "
        f"tenant leaks: {len(v.leaks)}; idempotency violations: {v.idempotency_violations}"
    )
    for line in v.totals_wrong[:15]:
        print(f"  ! total: {line}")
    for line in v.leaks[:10]:
        print(f"  ! leak: {line}")
    anomalies = load.anomalies + verify_stats.anomalies
    if anomalies:
        print("anomalies: " + ", ".join(f"{k} {n}" for k, n in anomalies.most_common()))
    samples = load.samples[:12] + verify_stats.samples[:8]
    for sample in samples:
        print(f"  ! {sample}")
    if res["tracebacks_in_server_log"]:
        print(f"  ! {res['tracebacks_in_server_log']} tracebacks in the server's log")

    five_xx = sum(s.server_errors for s in [*load.ops.values(), *verify_stats.ops.values()])
    conn_errors = sum(s.conn_errors for s in [*load.ops.values(), *verify_stats.ops.values()])
    totals_exact = not v.totals_wrong
    stop = res["stop"]
    failures = []
    if five_xx:
        failures.append(f"{five_xx} 5xx")
    if v.lost_writes:
        failures.append(f"{v.lost_writes} lost writes")
    if not totals_exact:
        failures.append("totals not exact")
    if load_errors or verify_errors:
        failures.append(f"{load_errors + verify_errors} errors ({conn_errors} connection errors)")
    if v.phantom_writes or v.deleted_readable:
        failures.append(
            f"{v.phantom_writes} unacknowledged revisions, {v.deleted_readable} deleted yet readable"
        )
    if v.leaks:
        failures.append(f"{len(v.leaks)} tenant leaks")
    if v.idempotency_violations:
        failures.append(f"{v.idempotency_violations} idempotency violations")
    if v.not_terminal:
        failures.append(f"{v.not_terminal} executions not terminal after {profile.exec_wait:.0f}s")
    # Nothing in this workload fails or cancels: every execution must complete.
    not_completed = sum(n for s, n in v.exec_status.items() if s in EX_TERMINAL - {"completed"})
    if not_completed:
        failures.append(f"{not_completed} executions ended without completing")
    if stop["exit_code"] != 0:
        failures.append(f"server exit code {stop['exit_code']} on SIGINT")

    print()
    print(
        f"server: SIGINT -> exit code {stop['exit_code']} in {stop['seconds']:.1f}s"
        f"{' (killed after timeout)' if stop['killed'] else ''}; "
        f"'Stopped; data saved.' {'printed' if stop['saved'] else 'NOT printed'}"
    )
    print(
        f"load average: start {res['loadavg']['start']}, after load {res['loadavg']['after_load']}, "
        f"after verify {res['loadavg']['after_verify']}; other benchmarks running: "
        f"{'yes' if others else 'no'} at start, {'yes' if others_after else 'no'} at end"
    )
    print()
    print(
        f"zero 5xx: {'yes' if not five_xx else 'no'}, lost writes: {v.lost_writes}, "
        f"totals exact: {'yes' if totals_exact else 'no'}"
    )
    verdict = "PASS" if not failures else "FAIL (" + "; ".join(failures) + ")"

    path = write_results(
        "load",
        {
            "profile": {**profile.__dict__, "quick": args.quick, "seed": args.seed},
            "mix": weights,
            "environment": environment(),
            "other_benchmarks_running": {"start": others, "end": others_after},
            "loadavg": res["loadavg"],
            "elapsed_seconds": round(time.perf_counter() - started, 1),
            "startup_seconds": res["startup_seconds"],
            "load": {**res["load"], "operations": records},
            "seed": op_rows(res["seed_stats"], None)[1],
            "verify": {"seconds": res["verify_seconds"], "requests": vrecords},
            "acknowledged": {
                "creates": acked_creates,
                "deletes": deleted,
                "update_revisions": acked_updates,
                "executions": executions,
                "idempotency_keys": keys,
            },
            "checks": {
                "lost_creates": v.lost_creates,
                "lost_updates": v.lost_updates,
                "lost_executions": v.lost_executions,
                "unacknowledged_revisions": v.phantom_writes,
                "deleted_readable": v.deleted_readable,
                "unverifiable_workflows": v.unverifiable,
                "totals_checked": v.totals_checked,
                "totals_wrong": v.totals_wrong,
                "leaks": v.leaks,
                "idempotency_violations": v.idempotency_violations,
                "execution_status": dict(v.exec_status),
                "anomalies": dict(anomalies),
                "samples": samples,
                "tracebacks_in_server_log": res["tracebacks_in_server_log"],
            },
            "server_stop": stop,
            "server_log_tail": res["server_log_tail"],
            "verdict": {
                "zero_5xx": not five_xx,
                "lost_writes": v.lost_writes,
                "totals_exact": totals_exact,
                "pass": not failures,
                "failures": failures,
            },
        },
    )
    print(f"\nwritten {path.relative_to(REPO)}")
    # The last line: the verdict and the load phase's rate. No baseline is measured in the same
    # run, so the rate is this machine's absolute figure, labelled as such.
    print_headline(
        f"verdict: {verdict}; {res['load']['rps']:.1f} req/s from {profile.threads} clients over "
        f"{profile.tenants} tenants (absolute: no baseline measured in the same run)"
    )
    return 0 if not failures else 1
