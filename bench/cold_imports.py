"""Cold import time of every Lambda handler in template.yaml, against ``import boto3``.

For each function (read with ``orchestration_local.template.load_template``), a fresh
interpreter puts the function's CodeUri first on ``sys.path`` and imports its handler module
by name, as Lambda's Python runtime does, then reads the handler attribute. The time of that
import is taken inside the child (interpreter start-up excluded); the child's whole wall time
is recorded too. Each is repeated (5 times, 3 with ``--quick``)
after one untimed run that leaves bytecode caches warm, and the median is reported, next to
``import boto3`` measured the same way: the ratio says how many boto3-imports a cold start
of that function costs before its handler runs.

The child's environment is this one without AWS_* / POWERTOOLS_* variables, plus
TABLE_NAME=x, AWS_DEFAULT_REGION=us-east-1, POWERTOOLS_TRACE_DISABLED=true.

Then ``-X importtime`` for one function (the slowest, or ``--function``): the 10 largest
cumulative import costs and the own import time summed by top-level package.

    python -m bench.cold_imports [--quick] [--function WorkflowsGetFunction]

Prints tables and writes bench/results/cold_imports.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench._util import REPO, environment, table, write_results

# The child prints the import time in ms; {setup} and {target} are filled per measurement.
CHILD = """\
import sys, time
{setup}
t0 = time.perf_counter()
{target}
print((time.perf_counter() - t0) * 1000)
"""


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update({"TABLE_NAME": "x", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def handler_code(code_uri: Path, handler: str) -> tuple[str, str]:
    module, func = handler.rsplit(".", 1)
    setup = f"sys.path.insert(0, {str(code_uri)!r})"
    # __import__ rather than importlib.import_module (what Lambda calls; same work): only imports
    # through the C entry point show up in -X importtime.
    target = f"__import__({module!r}); getattr(sys.modules[{module!r}], {func!r})"
    return setup, target


def run_child(setup: str, target: str, env: dict[str, str], extra: list[str] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *(extra or []), "-c", CHILD.format(setup=setup, target=target)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    wall = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1], "stderr": proc.stderr}
    return {"import_ms": float(proc.stdout.strip().splitlines()[-1]), "wall_ms": wall, "stderr": proc.stderr}


def measure(setup: str, target: str, env: dict[str, str], repeat: int) -> dict[str, Any]:
    first = run_child(setup, target, env)  # warms bytecode caches; not counted
    if "error" in first:
        return {"error": first["error"]}
    runs = [run_child(setup, target, env) for _ in range(repeat)]
    failed = [r for r in runs if "error" in r]
    if failed:
        return {"error": failed[0]["error"]}
    imports = [r["import_ms"] for r in runs]
    walls = [r["wall_ms"] for r in runs]
    return {
        "import_ms_median": statistics.median(imports),
        "import_ms_min": min(imports),
        "import_ms_max": max(imports),
        "wall_ms_median": statistics.median(walls),
        "runs_import_ms": [round(x, 2) for x in imports],
    }


def importtime(setup: str, target: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """Rows of ``-X importtime``: name, depth, self_us, cumulative_us (first import of each module)."""
    result = run_child(setup, target, env, ["-X", "importtime"])
    if "error" in result:
        raise RuntimeError(result["error"])
    rows = []
    for line in result["stderr"].splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3:
            continue
        try:
            self_us, cumulative_us = int(parts[0]), int(parts[1])
        except ValueError:  # the header line
            continue
        name = parts[2].strip()
        depth = (len(parts[2]) - len(parts[2].lstrip(" ")) - 1) // 2
        rows.append({"name": name, "depth": depth, "self_us": self_us, "cumulative_us": cumulative_us})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_imports", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions instead of 5")
    parser.add_argument("--repeat", type=int, help="repetitions per measurement (default 5, 3 with --quick)")
    parser.add_argument(
        "--function", help="logical id for the -X importtime breakdown (default: the slowest)"
    )
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 5)

    from orchestration_local.template import load_template

    started = time.perf_counter()
    template = load_template(REPO / "template.yaml")
    env = child_env()

    baselines = {
        "python -c pass": measure("", "pass", env, repeat),
        "import boto3": measure("", "import boto3", env, repeat),
    }
    boto3_ms = baselines["import boto3"]["import_ms_median"]
    print(
        f"baseline: import boto3 {boto3_ms:.1f} ms (median of {repeat}, in a fresh interpreter)", flush=True
    )

    functions: dict[str, dict[str, Any]] = {}
    for logical_id, spec in sorted(template.functions.items()):
        setup, target = handler_code(spec.code_uri, spec.handler)
        res = measure(setup, target, env, repeat)
        res["code_uri"] = (
            str(spec.code_uri.relative_to(REPO)) if spec.code_uri.is_relative_to(REPO) else str(spec.code_uri)
        )
        res["handler"] = spec.handler
        if "error" not in res:
            res["ratio_to_boto3"] = res["import_ms_median"] / boto3_ms
            print(
                f"  {logical_id:<34} {res['import_ms_median']:7.1f} ms  x{res['ratio_to_boto3']:.2f}",
                flush=True,
            )
        else:
            print(f"  {logical_id:<34} ERROR {res['error']}", flush=True)
        functions[logical_id] = res

    ok = {k: v for k, v in functions.items() if "error" not in v}
    chosen = args.function or (max(ok, key=lambda k: ok[k]["import_ms_median"]) if ok else None)
    breakdown: list[dict[str, Any]] = []
    if chosen:
        spec = template.functions[chosen]
        breakdown = importtime(*handler_code(spec.code_uri, spec.handler), env)
    elapsed = time.perf_counter() - started

    print()
    print(f"Cold import of each Lambda handler (median of {repeat} fresh interpreters, {elapsed:.0f}s)")
    rows: list[list[Any]] = [
        [
            name,
            b["import_ms_median"],
            b["import_ms_min"],
            b["import_ms_max"],
            b["wall_ms_median"],
            b["import_ms_median"] / boto3_ms,
        ]
        for name, b in baselines.items()
    ]
    rows[0][1:4] = [float("nan")] * 3  # nothing imported: only the process wall time means something
    rows[0][5] = float("nan")
    for logical_id, r in sorted(functions.items(), key=lambda kv: -kv[1].get("import_ms_median", 1e9)):
        if "error" in r:
            rows.append(
                [logical_id, float("nan"), float("nan"), float("nan"), float("nan"), f"ERROR {r['error']}"]
            )
        else:
            rows.append(
                [
                    logical_id,
                    r["import_ms_median"],
                    r["import_ms_min"],
                    r["import_ms_max"],
                    r["wall_ms_median"],
                    r["ratio_to_boto3"],
                ]
            )
    print(table(["function", "import ms", "min", "max", "process wall ms", "x boto3"], rows))

    by_package: dict[str, int] = defaultdict(int)
    for row in breakdown:
        by_package[row["name"].split(".")[0]] += row["self_us"]
    total_us = sum(by_package.values()) or 1
    if chosen:
        print()
        print(f"-X importtime of {chosen}: 10 largest cumulative import costs")
        top = sorted(breakdown, key=lambda r: -r["cumulative_us"])[:10]
        print(
            table(
                ["module", "cumulative ms", "self ms"],
                [
                    ["  " * r["depth"] + r["name"], r["cumulative_us"] / 1000, r["self_us"] / 1000]
                    for r in top
                ],
            )
        )
        print()
        print(f"-X importtime of {chosen}: own import time by top-level package (all modules imported)")
        packages = sorted(by_package.items(), key=lambda kv: -kv[1])[:12]
        print(
            table(
                ["package", "ms", "share"],
                [[name, us / 1000, f"{us / total_us * 100:.0f}%"] for name, us in packages],
            )
        )

    path = write_results(
        "cold_imports",
        {
            "repeat": repeat,
            "environment": environment(),
            "elapsed_seconds": round(elapsed, 1),
            "baselines": baselines,
            "functions": functions,
            "importtime_function": chosen,
            "importtime_top_cumulative": sorted(breakdown, key=lambda r: -r["cumulative_us"])[:30],
            "importtime_self_by_package_ms": {
                k: v / 1000 for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])
            },
        },
    )
    print(f"\nwritten {path.relative_to(REPO)}")
    return 1 if len(ok) < len(functions) else 0


if __name__ == "__main__":
    raise SystemExit(main())
