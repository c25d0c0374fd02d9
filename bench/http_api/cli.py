"""``python -m bench.http_api``: the options, the measurements, the tables and ratios, the
results file."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench import http_api
from bench.harness import REPO, DevServer, environment, print_headline, table, write_results
from bench.http_api.floor import inprocess_breakdown, raw_get_item
from bench.http_api.measure import FULL, QUICK, Profile
from bench.http_api.scenario import http_benchmarks

DESCRIPTION = (http_api.__doc__ or "").split("\n")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_api", description=DESCRIPTION)
    parser.add_argument(
        "--quick", action="store_true", help="~30 s run (1,000 workflows, short measurements)"
    )
    parser.add_argument("--seed", type=int, help="workflows stored for the list measurements")
    parser.add_argument("--duration", type=float, help="seconds per measurement")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    if args.seed is not None:
        profile = Profile(**{**profile.__dict__, "seed_target": args.seed})
    if args.duration is not None:
        profile = Profile(**{**profile.__dict__, "duration": args.duration})

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        workdir = Path(tmp)
        http = http_benchmarks(profile, workdir)
        floor = raw_get_item(profile)
        try:
            breakdown = inprocess_breakdown(profile, workdir)
        except Exception as err:  # the breakdown is a bonus; the service may be mid-change
            print(f"  ! in-process breakdown skipped: {err!r}", file=sys.stderr)
            breakdown = []
        if any(r["errors"] for r in http["measurements"]):
            print(DevServer(workdir, "").log_tail(), file=sys.stderr)

    rows = http["measurements"]
    get_c = {r["concurrency"]: r for r in rows if r["name"].startswith("GET /workflows/{id} (few")}
    ratios = {f"http_get_c{c}_over_raw_get_item": get_c[c]["rps"] / floor["rps"] for c in get_c}
    elapsed = time.perf_counter() - started

    print()
    print(f"HTTP API of the embedded runtime ({'quick' if args.quick else 'full'} run, {elapsed:.0f}s)")
    print(
        table(
            ["measurement", "clients", "requests", "errors", "req/s", "p50 ms", "p99 ms", "srv CPU ms/req"],
            [
                [
                    r["name"],
                    r["concurrency"],
                    r["requests"],
                    r["errors"],
                    r["rps"],
                    r["p50_ms"],
                    r["p99_ms"],
                    r["server_cpu_ms_per_req"],
                ]
                for r in rows
            ],
        )
    )
    s = http["seed_http"]
    print()
    print(
        f"seeding over HTTP: {s['workflows']:,} POSTs in {s['seconds']:.1f}s = {s['rate']:.1f}/s "
        f"({s['threads']} threads); per block of {s['block']:,} as the table grew: "
        + ", ".join(f"{b['rate']:.1f}" for b in s["blocks"])
        + " /s"
    )
    if "seed_data_dir" in http:
        d = http["seed_data_dir"]
        print(
            f"seeding the rest: {d['workflows']:,} workflows written into the stopped runtime's "
            f"data directory in {d['seconds']:.1f}s; restart with {http['stored']:,} stored ready in "
            f"{http['startup_seconds_with_data']:.1f}s"
        )
    print(
        f"startup (empty): {http['startup_seconds_empty']:.2f}s; "
        f"shutdown with {http['stored']:,} stored: {http['shutdown_seconds']:.2f}s"
        f" (exit code {http['exit_code']})"
    )
    print()
    print("Floor and in-process breakdown (one thread)")
    print(
        table(
            ["measurement", "requests", "req/s", "p50 ms", "p99 ms", "x floor time"],
            [
                [r["name"], r["requests"], r["rps"], r["p50_ms"], r["p99_ms"], floor["rps"] / r["rps"]]
                for r in [floor, *breakdown, *(get_c[c] for c in sorted(get_c))]
            ],
        )
    )
    print()
    for c in sorted(get_c):
        print(
            f"ratio HTTP GET one workflow (c={c}) / raw get_item = {get_c[c]['rps']:.1f} / {floor['rps']:.1f}"
            f" = {ratios[f'http_get_c{c}_over_raw_get_item']:.3f}"
            f"  (one HTTP GET costs {1 / ratios[f'http_get_c{c}_over_raw_get_item']:.1f}x a raw get_item)"
        )

    path = write_results(
        "http_api",
        {
            "profile": {**profile.__dict__, "quick": args.quick},
            "environment": environment(),
            "elapsed_seconds": round(elapsed, 1),
            **{k: v for k, v in http.items() if k != "server_log"},
            "floor": floor,
            "inprocess": breakdown,
            "ratios": ratios,
        },
    )
    print(f"\nwritten {path.relative_to(REPO)}")
    # The last line: one client's HTTP GET rate over the floor's, both from one thread, same run.
    c = min(get_c)
    print_headline(
        f"HTTP GET one workflow, {c} client: x{ratios[f'http_get_c{c}_over_raw_get_item']:.3f} "
        f"(GET/s over raw moto get_item/s in this process, same run; {get_c[c]['rps']:.1f}/s over "
        f"{floor['rps']:.1f}/s)"
    )
    return 1 if any(r["errors"] for r in rows) else 0
