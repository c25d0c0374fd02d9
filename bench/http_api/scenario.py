"""The measurements over HTTP in order: few stored, seeding, then the same and the list pages
with N stored."""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.harness import (
    Client,
    DevServer,
    diamond_workflow,
)
from bench.http_api.measure import CONCURRENCY, Profile, measure_into, seed
from bench.http_api.seeding import SEED_TEMPLATE_NAME, seed_data_dir


def http_benchmarks(profile: Profile, workdir: Path) -> dict[str, Any]:
    api_key = "orch_" + secrets.token_urlsafe(32)
    server = DevServer(workdir, api_key)
    data_dir = server.data_dir
    out: dict[str, Any] = {"measurements": [], "server_log": str(server.stderr_path)}
    rows = out["measurements"]
    server.start()
    try:
        out["startup_seconds_empty"] = server.ready_seconds
        print(f"embedded runtime ready in {server.ready_seconds:.2f}s at {server.url} (pid {server.pid})")
        admin = Client(server.url, api_key)
        wid = admin.json("POST", "/workflows", diamond_workflow("the-one"), expect=201)["id"]

        def get_one(c: Client, _i: int) -> tuple[int, bytes]:
            return c.request("GET", f"/workflows/{wid}")

        def post_one(c: Client, i: int) -> tuple[int, bytes]:
            return c.request("POST", "/workflows", diamond_workflow(f"bench-{i}"))

        for conc in CONCURRENCY:
            measure_into(rows, server, "GET /workflows/{id} (few stored)", conc, get_one, 200, profile)
        for conc in CONCURRENCY:
            measure_into(
                rows, server, "POST /workflows (10-task diamond, few stored)", conc, post_one, 201, profile
            )

        # Seeding, part 1: through the API, as long as the budget allows.
        stored = admin.json("GET", "/workflows?limit=1")["total"]
        print(f"seeding over HTTP for up to {profile.seed_budget:.0f}s ({stored:,} stored) ...", flush=True)
        out["seed_http"] = seed(server, profile.seed_target - stored, profile)
        s = out["seed_http"]
        print(
            f"  {s['workflows']:,} POSTs in {s['seconds']:.1f}s = {s['rate']:.1f}/s"
            f" with {s['threads']} threads; per block of {s['block']:,}: "
            + ", ".join(f"{b['rate']:.1f}" for b in s["blocks"])
            + " /s",
            flush=True,
        )
        # Seeding, part 2: the rest as the runtime's own saved data (see seed_data_dir), then restart.
        stored = admin.json("GET", "/workflows?limit=1")["total"]
        missing = profile.seed_target - stored
        if missing > 0:
            template_id = admin.json("POST", "/workflows", diamond_workflow(SEED_TEMPLATE_NAME), expect=201)[
                "id"
            ]
            admin.close()
            server.stop()
            out["shutdown_seconds_before_top_up"] = server.stop_seconds
            out["exit_code_before_top_up"] = server.exit_code
            t0 = time.perf_counter()
            out["seed_data_dir"] = seed_data_dir(data_dir, template_id, missing - 1)
            out["seed_data_dir"]["seconds"] = round(time.perf_counter() - t0, 2)
            server = DevServer(workdir, api_key)
            server.start()
            out["startup_seconds_with_data"] = server.ready_seconds
            admin = Client(server.url, api_key)
        total = admin.json("GET", "/workflows?limit=1")["total"]
        out["stored"] = total
        if missing > 0:
            print(
                f"  wrote {missing - 1:,} more into the data directory"
                f" in {out['seed_data_dir']['seconds']:.1f}s; restart ready in {server.ready_seconds:.1f}s;"
                f" total now {total:,}",
                flush=True,
            )
            if total != profile.seed_target:
                print(f"  ! expected total {profile.seed_target:,}, the API says {total:,}", file=sys.stderr)

        deep = max(50, (int(total * 0.9) // 50) * 50)
        before = admin.json("GET", f"/workflows?limit=50&offset={deep - 50}")
        token = before.get("nextToken")
        if not token:
            raise RuntimeError(f"no nextToken at offset {deep - 50}: {str(before)[:300]}")
        by_token = admin.json("GET", f"/workflows?limit=50&nextToken={quote(token)}")
        by_offset = admin.json("GET", f"/workflows?limit=50&offset={deep}")
        same = [w["id"] for w in by_token["workflows"]] == [w["id"] for w in by_offset["workflows"]]
        out["deep"] = {"offset": deep, "token_page_offset": by_token.get("offset"), "same_items": same}
        if not same:
            print(f"  ! the nextToken page and the offset={deep} page differ", file=sys.stderr)
        admin.close()

        def list_first(c: Client, _i: int) -> tuple[int, bytes]:
            return c.request("GET", "/workflows?limit=50")

        def list_token(c: Client, _i: int) -> tuple[int, bytes]:
            return c.request("GET", f"/workflows?limit=50&nextToken={quote(token)}")

        def list_offset(c: Client, _i: int) -> tuple[int, bytes]:
            return c.request("GET", f"/workflows?limit=50&offset={deep}")

        n = f"{total:,}"
        measure_into(rows, server, f"GET /workflows/{{id}} ({n} stored)", 1, get_one, 200, profile)
        for conc in CONCURRENCY:
            measure_into(rows, server, f"GET page 1 of 50 ({n} stored)", conc, list_first, 200, profile)
        for conc in CONCURRENCY:
            measure_into(
                rows, server, f"GET page of 50 at {deep:,} by nextToken", conc, list_token, 200, profile
            )
        for conc in CONCURRENCY:
            measure_into(rows, server, f"GET page of 50 at offset={deep:,}", conc, list_offset, 200, profile)
        # Last, because every write makes the runtime snapshot the whole table again.
        measure_into(
            rows, server, f"POST /workflows (10-task diamond, {n} stored)", 1, post_one, 201, profile
        )
    finally:
        server.stop()
    out["shutdown_seconds"] = server.stop_seconds
    out["exit_code"] = server.exit_code
    return out
