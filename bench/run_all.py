"""Run every benchmark, one after the other, each in its own interpreter.

    python -m bench.run_all            # ~15 minutes
    python -m bench.run_all --quick    # ~3 minutes

Results: bench/results/<benchmark>.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.harness import REPO

BENCHMARKS = (
    "bench.http_api",
    "bench.cold_imports",
    "bench.engine",
    "bench.dispatcher",
    "bench.durability",
    "bench.watch",
    "bench.lists",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    args = parser.parse_args(argv)
    failed = []
    for module in BENCHMARKS:
        print(f"\n######## {module}{' --quick' if args.quick else ''}\n", flush=True)
        started = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", module, *(["--quick"] if args.quick else [])], cwd=REPO)
        print(f"\n######## {module}: exit {rc} after {time.perf_counter() - started:.0f}s", flush=True)
        if rc:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
