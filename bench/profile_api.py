"""Where the embedded runtime spends its time: cProfile of single API calls, in-process.

Not part of run_all (it is a diagnosis, not a figure to track). It builds the embedded
runtime in this process with N workflows stored (default 10,000; seeded like bench.http_api:
one workflow through the API, the rest written into the saved data, then a restart), then
profiles, one at a time and without the HTTP server:

  GET one workflow, GET the first page of 50, GET a page deep in the list by nextToken and by
  offset, POST a workflow, and one save of the data directory (what the runtime's snapshot
  thread does every second after a write).

    python -m bench.profile_api [--stored 10000] [--top 12]

For each: wall time per call, the functions with the most own time, and the largest
cumulative entries from the service's own code and moto's DynamoDB model.

It measures no baseline in the same run, so it has no headline ratio: its last line, labelled
so, is the headline it has, each call's wall time without the profiler in ms, an absolute figure
of the machine it ran on. Ratios against a same-run floor are bench.http_api's.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.harness import diamond_workflow, print_headline
from bench.http_api.seeding import SEED_TEMPLATE_NAME, seed_data_dir

INTERESTING = ("orchestration_core", "orchestration_local", "moto/dynamodb/models", "copy.py", "functions/")


def _short(func: tuple[str, int, str]) -> str:
    path, line, name = func
    for marker in ("site-packages/", "/layers/core/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path}:{line})"


def profile_call(label: str, fn: Callable[[], Any], repeat: int, top: int) -> float:
    """Profile ``fn``; returns its wall time in ms without the profiler (one warm-up call)."""
    started = time.perf_counter()
    fn()  # warms caches; timed without the profiler, which inflates call-heavy code several times
    plain = (time.perf_counter() - started) * 1000
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    for _ in range(repeat):
        fn()
    prof.disable()
    per_call = (time.perf_counter() - started) / repeat * 1000
    stats = pstats.Stats(prof)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1e-9
    print(f"\n=== {label}: {plain:,.1f} ms without the profiler; {per_call:,.1f} ms per call under it")
    print("  most own time:")
    for func, (_cc, _nc, tt, _ct, _callers) in sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]:
        print(f"    {tt / total * 100:5.1f}%  {_short(func)}")
    print("  largest cumulative (service code, moto's DynamoDB model, deepcopy):")
    rows = [
        (ct, func) for func, (_cc, _nc, _tt, ct, _c) in raw.items() if any(m in func[0] for m in INTERESTING)
    ]
    for ct, func in sorted(rows, key=lambda r: -r[0])[:top]:
        print(f"    {ct / total * 100:5.1f}%  {ct / repeat * 1000:9.1f} ms/call  {_short(func)}")
    return plain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_api", description=__doc__.split("\n")[0])
    parser.add_argument("--stored", type=int, default=10_000, help="workflows stored (default 10,000)")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)

    from orchestration_local.gateway import HttpRequest
    from orchestration_local.runtime import Runtime

    api_key = "orch_" + secrets.token_urlsafe(32)
    auth = ("Authorization", f"Bearer {api_key}")
    json_headers = [auth, ("Content-Type", "application/json")]

    with tempfile.TemporaryDirectory(prefix="orch-profile-") as tmp:
        data_dir = Path(tmp)
        runtime = Runtime(data_dir)
        runtime.ensure_dev_key(api_key)

        def call(rt: Any, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
            headers = json_headers if body is not None else [auth]
            data = json.dumps(body).encode() if body is not None else b""
            path_only, _, query = path.partition("?")
            resp = rt.gateway.handle(HttpRequest(method, path_only, query=query, headers=headers, body=data))
            if resp.status != expect:
                raise RuntimeError(f"{method} {path}: {resp.status} {resp.body[:300]!r}")
            return json.loads(resp.body)

        wid = call(runtime, "POST", "/workflows", diamond_workflow("profiled"), 201)["id"]
        template = call(runtime, "POST", "/workflows", diamond_workflow(SEED_TEMPLATE_NAME), 201)["id"]
        runtime.close()
        seed_data_dir(data_dir, template, args.stored - 2)
        started = time.perf_counter()
        runtime = Runtime(data_dir)
        print(f"runtime with {args.stored:,} workflows loaded in {time.perf_counter() - started:.1f}s")
        store = runtime.store
        try:
            total = call(runtime, "GET", "/workflows?limit=1")["total"]
            deep = max(50, (int(total * 0.9) // 50) * 50)
            token = call(runtime, "GET", f"/workflows?limit=50&offset={deep - 50}")["nextToken"]
            print(f"{total:,} stored; deep page at {deep:,}")

            wall_ms = {
                "GET one": profile_call(
                    "GET /workflows/{id}", lambda: call(runtime, "GET", f"/workflows/{wid}"), 20, args.top
                ),
                "page 1": profile_call(
                    "GET /workflows?limit=50",
                    lambda: call(runtime, "GET", "/workflows?limit=50"),
                    5,
                    args.top,
                ),
                f"nextToken at {deep:,}": profile_call(
                    f"GET /workflows?limit=50&nextToken=<at {deep:,}>",
                    lambda: call(runtime, "GET", f"/workflows?limit=50&nextToken={quote(token)}"),
                    5,
                    args.top,
                ),
                f"offset {deep:,}": profile_call(
                    f"GET /workflows?limit=50&offset={deep:,}",
                    lambda: call(runtime, "GET", f"/workflows?limit=50&offset={deep}"),
                    1,
                    args.top,
                ),
                "POST": profile_call(
                    "POST /workflows",
                    lambda: call(runtime, "POST", "/workflows", diamond_workflow("profiled-post"), 201),
                    2,
                    args.top,
                ),
            }
            if store is not None:
                wall_ms["snapshot"] = profile_call("snapshot (whole store)", store.snapshot, 1, args.top)
        finally:
            runtime.close()
    print()
    print_headline(
        f"wall ms per call without the profiler, {total:,} stored: "
        + ", ".join(f"{k} {v:,.1f}" for k, v in wall_ms.items())
        + " (absolute, not a ratio: no baseline is measured in the same run)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
