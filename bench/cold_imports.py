"""Cold start of every Lambda handler in template.yaml, as built, against ``import boto3``.

The environment is the one a Lambda function runs in, nothing more (scripts/lambda_env.py):
the function's CodeUri, then the layer as ``layers/core/Makefile`` builds it for the
functions' Python (3.12 when found, else this interpreter), then a separate "runtime" venv
holding only boto3 (as Lambda's runtime provides it) and the standard library. The child runs
with ``-I -B``: no working directory, no PYTHON* variables, no user site-packages, and no
bytecode written, so only the bytecode the layer ships is used (Lambda's code is read-only).

For each function a fresh interpreter imports its handler module by name, as Lambda's Python
runtime does, then reads the handler attribute. The import is timed inside the child
(interpreter start-up excluded); the child's whole wall time is recorded too. Each is repeated
(5 times, 3 with ``--quick``) after one untimed run that warms the disk cache, and the median is
reported, next to ``import boto3`` measured the same way in the same runtime: the ratio says
how many boto3-imports a cold start of that function costs before its handler runs. A second
baseline, the libraries of an API function alone (boto3, pydantic's models, Powertools' REST
resolver with its OpenAPI validation and Logger, with no code of this project), says how much
of that is this project's own.

The child's environment: TABLE_NAME=x, AWS_DEFAULT_REGION=us-east-1,
POWERTOOLS_TRACE_DISABLED=true, LAMBDA_TASK_ROOT=<the function's directory>. The slowest
function (by CPU time) is measured once more with tracing on (POWERTOOLS_TRACE_DISABLED unset:
Powertools' Tracer and the X-Ray SDK load at import, what a deployed function with tracing on
pays).

Then ``-X importtime`` for one function (the slowest, or ``--function``): the 10 largest
cumulative import costs and the own import time summed by top-level package.

    python -m bench.cold_imports [--quick] [--function WorkflowsGetFunction] [--layer DIR]

Prints tables and ends with one line: the handlers' median and largest ratio to ``import boto3``,
by wall time and by CPU time (the steadier of the two on a shared machine); writes
bench/results/cold_imports.json.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.harness import REPO, environment, table, write_results
from scripts import lambda_env

# The child prints the import time in ms; {target} is filled per measurement.
CHILD = """\
import time
t0, c0 = time.perf_counter(), time.process_time()
{target}
print((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000)
"""


# What an API function's handler imports from its libraries, without this project's code:
# boto3, pydantic's model machinery, Powertools' REST resolver with its OpenAPI validation and
# its Logger. No API function can import faster than this.
API_LIBRARIES = (
    "import boto3; from pydantic import BaseModel, Field, StringConstraints; "
    "from aws_lambda_powertools import Logger; "
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver; "
    "import aws_lambda_powertools.event_handler.middlewares.openapi_validation"
)


def child_env(code_uri: Path | None = None, traced: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    env.update({"TABLE_NAME": "x", "AWS_DEFAULT_REGION": "us-east-1"})
    if code_uri is not None:
        env["LAMBDA_TASK_ROOT"] = str(code_uri)
    if not traced:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


SERVICES = REPO / "layers" / "core" / "orchestration_core" / "services.py"


def factory_imports(handler_source: str, services_source: str) -> list[str]:
    """The modules the composition root's factories import on a handler's first request.

    services.py imports what only some factories wire inside those factories, so a handler does
    not load what it never calls. Whatever its own factories (and the factories they call)
    import, its first request loads: the measurement counts it, so deferring an import never
    makes a cold start look shorter than it is.
    """
    factories: dict[str, tuple[set[str], set[str]]] = {}
    for node in ast.parse(services_source).body:
        if isinstance(node, ast.FunctionDef):
            own = {n.module for n in ast.walk(node) if isinstance(n, ast.ImportFrom) and n.module}
            own |= {a.name for n in ast.walk(node) if isinstance(n, ast.Import) for a in n.names}
            calls = {
                n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            }
            factories[node.name] = (own, calls)
    wanted = [
        alias.name
        for n in ast.walk(ast.parse(handler_source))
        if isinstance(n, ast.ImportFrom) and (n.module or "").endswith(".services")
        for alias in n.names
    ]
    seen: set[str] = set()
    modules: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen or name not in factories:
            continue
        seen.add(name)
        modules |= factories[name][0]
        wanted.extend(factories[name][1])
    return sorted(modules)


def handler_target(handler: str, code_uri: Path | None = None) -> str:
    module, func = handler.rsplit(".", 1)
    # __import__ rather than importlib.import_module (what Lambda calls; same work): only imports
    # through the C entry point show up in -X importtime.
    target = f"import sys; __import__({module!r}); getattr(sys.modules[{module!r}], {func!r})"
    source = code_uri / (module.replace(".", "/") + ".py") if code_uri is not None else None
    if source is not None and source.exists() and SERVICES.exists():
        for name in factory_imports(source.read_text(), SERVICES.read_text()):
            target += f"; __import__({name!r})"
    return target


class Child:
    """How to start one measured interpreter: the runtime's python and the code's directories."""

    def __init__(self, python: Path, code_dirs: list[Path], env: dict[str, str]) -> None:
        self.python = python
        self.code_dirs = code_dirs
        self.env = env


def run_child(child: Child, target: str, extra: list[str] | None = None) -> dict[str, Any]:
    argv = lambda_env.child_command(child.python, child.code_dirs, CHILD.format(target=target))
    argv[1:1] = extra or []
    started = time.perf_counter()
    proc = subprocess.run(argv, env=child.env, cwd="/", capture_output=True, text=True, timeout=120)
    wall = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1], "stderr": proc.stderr}
    import_ms, cpu_ms = (float(x) for x in proc.stdout.strip().splitlines()[-1].split())
    return {"import_ms": import_ms, "cpu_ms": cpu_ms, "wall_ms": wall, "stderr": proc.stderr}


def measure(child: Child, target: str, repeat: int) -> dict[str, Any]:
    first = run_child(child, target)  # warms the disk cache; not counted
    if "error" in first:
        return {"error": first["error"]}
    runs = [run_child(child, target) for _ in range(repeat)]
    failed = [r for r in runs if "error" in r]
    if failed:
        return {"error": failed[0]["error"]}
    imports = [r["import_ms"] for r in runs]
    walls = [r["wall_ms"] for r in runs]
    return {
        "import_ms_median": statistics.median(imports),
        "cpu_ms_median": statistics.median(r["cpu_ms"] for r in runs),
        "import_ms_min": min(imports),
        "import_ms_max": max(imports),
        "wall_ms_median": statistics.median(walls),
        "runs_import_ms": [round(x, 2) for x in imports],
    }


def importtime(child: Child, target: str) -> list[dict[str, Any]]:
    """Rows of ``-X importtime``: name, depth, self_us, cumulative_us (first import of each module)."""
    result = run_child(child, target, ["-X", "importtime"])
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
    parser.add_argument(
        "--layer", type=Path, help="a built layer's root (holding python/) instead of building one"
    )
    parser.add_argument(
        "--python", type=Path, help="the functions' interpreter (default: Python 3.12, else this one)"
    )
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 5)

    from orchestration_local.template import load_template

    started = time.perf_counter()
    python = args.python or lambda_env.find_python()
    if python is None:
        python = Path(sys.executable)
        print(f"Python {lambda_env.LAMBDA_PYTHON_VERSION} not found: measuring with {python}", flush=True)
    runtime = lambda_env.runtime_venv(python)
    layer = args.layer or lambda_env.build_layer(python)
    layer_dir = layer / "python"
    print(f"runtime: {runtime} (Python {lambda_env.python_version(runtime)}, boto3 only)", flush=True)
    print(f"layer:   {layer_dir}", flush=True)
    template = load_template(REPO / "template.yaml")

    bare = Child(runtime, [], child_env())
    # The libraries alone: what every API function imports before any code of this project
    # (measured with the layer on sys.path, in a function-less environment).
    libraries = Child(runtime, [layer_dir], child_env())
    baselines = {
        "python -c pass": measure(bare, "pass", repeat),
        "import boto3": measure(bare, "import boto3", repeat),
        "libraries of an API function": measure(libraries, API_LIBRARIES, repeat),
    }
    boto3_ms = baselines["import boto3"]["import_ms_median"]
    boto3_cpu = baselines["import boto3"]["cpu_ms_median"]
    print(
        f"baseline: import boto3 {boto3_ms:.1f} ms, CPU {boto3_cpu:.1f} ms "
        f"(median of {repeat}, in a fresh interpreter)",
        flush=True,
    )

    def child_for(logical_id: str, traced: bool = False) -> Child:
        spec = template.functions[logical_id]
        return Child(runtime, [spec.code_uri, layer_dir], child_env(spec.code_uri, traced))

    functions: dict[str, dict[str, Any]] = {}
    for logical_id, spec in sorted(template.functions.items()):
        res = measure(child_for(logical_id), handler_target(spec.handler, spec.code_uri), repeat)
        res["code_uri"] = (
            str(spec.code_uri.relative_to(REPO)) if spec.code_uri.is_relative_to(REPO) else str(spec.code_uri)
        )
        res["handler"] = spec.handler
        if "error" not in res:
            res["ratio_to_boto3"] = res["import_ms_median"] / boto3_ms
            res["cpu_ratio_to_boto3"] = res["cpu_ms_median"] / boto3_cpu
            print(
                f"  {logical_id:<34} {res['import_ms_median']:7.1f} ms  x{res['ratio_to_boto3']:.2f}"
                f"   CPU {res['cpu_ms_median']:7.1f} ms  x{res['cpu_ratio_to_boto3']:.2f}",
                flush=True,
            )
        else:
            print(f"  {logical_id:<34} ERROR {res['error']}", flush=True)
        functions[logical_id] = res

    ok = {k: v for k, v in functions.items() if "error" not in v}
    slowest = max(ok, key=lambda k: ok[k]["cpu_ms_median"]) if ok else None
    chosen = args.function or slowest
    breakdown: list[dict[str, Any]] = []
    traced: dict[str, Any] = {}
    if chosen:
        spec = template.functions[chosen]
        breakdown = importtime(child_for(chosen), handler_target(spec.handler, spec.code_uri))
        traced = measure(child_for(chosen, traced=True), handler_target(spec.handler, spec.code_uri), repeat)
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
            b["cpu_ms_median"],
            b["cpu_ms_median"] / boto3_cpu,
        ]
        for name, b in baselines.items()
        if "error" not in b
    ]
    rows[0][1:4] = [float("nan")] * 3  # nothing imported: only the process wall time means something
    rows[0][5] = rows[0][6] = rows[0][7] = float("nan")
    for logical_id, r in sorted(functions.items(), key=lambda kv: -kv[1].get("import_ms_median", 1e9)):
        if "error" in r:
            rows.append([logical_id, *[float("nan")] * 6, f"ERROR {r['error']}"])
        else:
            rows.append(
                [
                    logical_id,
                    r["import_ms_median"],
                    r["import_ms_min"],
                    r["import_ms_max"],
                    r["wall_ms_median"],
                    r["ratio_to_boto3"],
                    r["cpu_ms_median"],
                    r["cpu_ratio_to_boto3"],
                ]
            )
    headers = ["function", "import ms", "min", "max", "process wall ms", "x boto3", "CPU ms", "CPU x boto3"]
    print(table(headers, rows))

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

    traced_ms = traced.get("import_ms_median")
    if chosen and traced_ms is not None:
        print()
        print(
            f"{chosen} with tracing on (X-Ray SDK loaded at import): {traced_ms:.1f} ms, "
            f"x{traced_ms / boto3_ms:.2f} import boto3 (CPU x{traced['cpu_ms_median'] / boto3_cpu:.2f})"
        )
    elif chosen:
        print(f"\n{chosen} with tracing on: ERROR {traced.get('error')}")

    path = write_results(
        "cold_imports",
        {
            "repeat": repeat,
            "environment": environment(),
            "python": str(python),
            "runtime_python": str(runtime),
            "layer": str(layer_dir),
            "elapsed_seconds": round(elapsed, 1),
            "baselines": baselines,
            "functions": functions,
            "importtime_function": chosen,
            "traced_function": traced,
            "importtime_top_cumulative": sorted(breakdown, key=lambda r: -r["cumulative_us"])[:30],
            "importtime_self_by_package_ms": {
                k: v / 1000 for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])
            },
        },
    )
    print(f"\nwritten {path.relative_to(REPO)}")
    if ok:
        wall = sorted(v["ratio_to_boto3"] for v in ok.values())
        cpu = sorted(v["cpu_ratio_to_boto3"] for v in ok.values())
        floor = baselines["libraries of an API function"]
        floor_note = (
            f" (the libraries of an API function alone: x{floor['cpu_ms_median'] / boto3_cpu:.2f})"
            if "error" not in floor
            else ""
        )
        print(
            f"cold start vs import boto3 ({boto3_ms:.1f} ms, CPU {boto3_cpu:.1f} ms), "
            f"over {len(ok)} handlers: "
            f"median x{statistics.median(wall):.2f}, max x{wall[-1]:.2f}; "
            f"CPU time median x{statistics.median(cpu):.2f}, max x{cpu[-1]:.2f}{floor_note}"
        )
    return 1 if len(ok) < len(functions) else 0


if __name__ == "__main__":
    raise SystemExit(main())
