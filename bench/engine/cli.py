"""``python -m bench.engine``: the options, the three parts in order, the results file."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import engine
from bench.engine.compile import compile_benchmark, print_compile
from bench.engine.end_to_end import end_to_end_benchmark
from bench.engine.end_to_end_report import print_end_to_end
from bench.engine.graphs import FULL, QUICK
from bench.engine.makespan import makespan_benchmark, print_makespan
from bench.harness import environment, load_average, print_headline, start_runtime, write_results

DESCRIPTION = (engine.__doc__ or "").split("\n\n")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs (~30 s)")
    parser.add_argument("--poll", type=float, help="seconds between status polls in (3) (default 0.02)")
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--skip-runtime", action="store_true", help="skip (2) and (3)")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    if args.poll:
        profile = replace(profile, poll=args.poll)
    began = time.perf_counter()
    print(f"load average {load_average()} on {os.cpu_count()} CPUs (other processes skew wall-clock times)")
    results: dict[str, Any] = {
        "benchmark": "engine",
        "profile": "quick" if args.quick else "full",
        "environment": environment(),
    }
    if not args.skip_compile:
        print("1. compile + validate vs. topological sort", flush=True)
        results["compile"] = compile_benchmark(profile)
        print_compile(results["compile"])
    if not args.skip_runtime:
        with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
            runtime, api, timer = start_runtime(Path(tmp))
            try:
                print("\n2. makespan / critical path (sleep tasks in the embedded runtime)", flush=True)
                results["makespan"] = makespan_benchmark(profile, api)
                print_makespan(results["makespan"])
                print("\n3. end to end: engine vs. hand-written ASL in the same moto", flush=True)
                results["end_to_end"] = end_to_end_benchmark(profile, api, timer)
                print_end_to_end(results["end_to_end"])
            finally:
                runtime.close()
    results["elapsed_s"] = time.perf_counter() - began
    path = write_results("engine", results)
    print(f"\n{results['elapsed_s']:.0f} s; wrote {path}")
    print_headline(headline(results.get("end_to_end")))
    return 0


def headline(end_to_end: dict[str, Any] | None) -> str:
    """The last line: (3)'s 10-task workflows, the engine's median wall time over the hand-written
    state machine's of the same shape, run alternately in the same moto."""
    label = "engine end to end, 10-task chain / fork"
    if end_to_end is None:
        return f"{label}: n/a (not run: --skip-runtime)"
    shapes = end_to_end["shapes"]
    chain, fork = shapes["chain"], shapes["fork"]
    return (
        f"{label}: x{chain['ratio_wall']:.2f} / x{fork['ratio_wall']:.2f} (engine wall time over "
        "hand-written ASL's in the same moto, same run; "
        f"{chain['engine']['median_wall_s'] * 1000:.0f} / {fork['engine']['median_wall_s'] * 1000:.0f} ms "
        f"over {chain['hand_written']['median_wall_s'] * 1000:.0f} / "
        f"{fork['hand_written']['median_wall_s'] * 1000:.0f} ms)"
    )
