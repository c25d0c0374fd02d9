"""HTTP benchmark of the embedded runtime, driven like a user drives it.

Starts ``orchestration dev`` as a subprocess, then measures over keep-alive HTTP/1.1
connections (one ``http.client`` connection per client thread) with 1 and 4 concurrent clients:

  (a) GET one workflow
  (b) POST a 10-task diamond workflow (dependsOn fan-out / fan-in)
  (c) GET the first page of 50 with N (default 10,000) workflows stored
  (d) GET a page of 50 deep in the list (90% of N): by nextToken and by offset

and the floor: raw moto ``get_item`` in this process against the template's table, with the
ratio HTTP GET rate / raw get_item rate. An in-process breakdown (authorizer alone, the
whole API Gateway emulation without HTTP) shows where the time between the two goes.

    python -m bench.http_api            # ~5 minutes, 10,000 workflows
    python -m bench.http_api --quick    # ~30 seconds, 1,000 workflows

Prints a table and writes bench/results/http_api.json.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from bench._util import REPO, DevServer, environment, percentile, table, write_results

CONCURRENCY = (1, 4)


@dataclass(frozen=True)
class Profile:
    duration: float  # seconds per measurement
    max_requests: int  # per measurement
    seed_target: int  # workflows stored for the list measurements
    seed_threads: int
    seed_budget: float  # seconds of seeding over HTTP; the rest goes into the saved data


FULL = Profile(duration=6.0, max_requests=20_000, seed_target=10_000, seed_threads=8, seed_budget=30.0)
QUICK = Profile(duration=1.0, max_requests=2_000, seed_target=1_000, seed_threads=8, seed_budget=3.0)


def diamond_workflow(name: str) -> dict[str, Any]:
    """10 tasks: extract -> 3 parallel -> merge -> 4 parallel -> publish."""
    tasks: list[dict[str, Any]] = [
        {"name": "extract", "type": "noop", "config": {"source": "s3://bucket/in"}}
    ]
    tasks += [{"name": f"clean_{i}", "type": "noop", "dependsOn": ["extract"]} for i in range(3)]
    tasks.append(
        {
            "name": "merge",
            "type": "transform",
            "config": {"expression": "inputs"},
            "dependsOn": [f"clean_{i}" for i in range(3)],
        }
    )
    tasks += [{"name": f"report_{i}", "type": "noop", "dependsOn": ["merge"]} for i in range(4)]
    tasks.append({"name": "publish", "type": "noop", "dependsOn": [f"report_{i}" for i in range(4)]})
    return {"name": name, "description": "benchmark workflow (10-task diamond)", "tasks": tasks}


# ---------------------------------------------------------------------------------------- client
class Client:
    """One keep-alive HTTP/1.1 connection to the API."""

    def __init__(self, base_url: str, api_key: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.auth = f"Bearer {api_key}"
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=120)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        headers = {"Authorization": self.auth}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, self.prefix + path, body=data, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = self._connect()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, payload = self.request(method, path, body)
        if status != expect:
            raise RuntimeError(f"{method} {path}: expected {expect}, got {status}: {payload[:500]!r}")
        return json.loads(payload)

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------------------------------- measuring
RequestFn = Callable[[Client, int], tuple[int, bytes]]


def measure(
    server: DevServer,
    name: str,
    concurrency: int,
    fn: RequestFn,
    expect: int,
    profile: Profile,
    warmup: int = 1,
) -> dict[str, Any]:
    """Run ``fn`` from ``concurrency`` threads (one connection each) for a bounded time/count."""
    clients = [Client(server.url, server.api_key) for _ in range(concurrency)]
    for _ in range(warmup):  # one client is enough to warm the server; the others just connect
        fn(clients[0], -1)
    counter = itertools.count()
    latencies: list[list[float]] = [[] for _ in clients]
    errors = [0] * concurrency
    sizes = [0] * concurrency
    barrier = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def worker(idx: int) -> None:
        client = clients[idx]
        barrier.wait()
        while True:
            i = next(counter)
            if i >= profile.max_requests or time.perf_counter() >= deadline[0]:
                return
            t0 = time.perf_counter()
            status, payload = fn(client, i)
            latencies[idx].append(time.perf_counter() - t0)
            sizes[idx] += len(payload)
            if status != expect:
                errors[idx] += 1
                if errors[idx] == 1:
                    print(f"  ! {name}: status {status}: {payload[:300]!r}", file=sys.stderr)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    cpu0 = server.cpu_seconds()
    started = time.perf_counter()
    deadline[0] = started + profile.duration
    barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu0
    for client in clients:
        client.close()
    merged = sorted(x for lst in latencies for x in lst)
    n = len(merged)
    return {
        "name": name,
        "concurrency": concurrency,
        "requests": n,
        "errors": sum(errors),
        "seconds": round(elapsed, 3),
        "rps": n / elapsed if elapsed else float("nan"),
        "p50_ms": percentile(merged, 50) * 1000,
        "p99_ms": percentile(merged, 99) * 1000,
        "mean_ms": (sum(merged) / n * 1000) if n else float("nan"),
        "server_cpu_ms_per_req": (cpu / n * 1000) if n else float("nan"),
        "bytes_per_resp": (sum(sizes) / n) if n else float("nan"),
    }


def seed(server: DevServer, count: int, profile: Profile) -> dict[str, Any]:
    """POST ``count`` diamond workflows from several threads; the rate overall and per block."""
    if count <= 0:
        return {"workflows": 0, "threads": 0, "seconds": 0.0, "rate": float("nan"), "block": 0, "blocks": []}
    counter = itertools.count()
    done: list[float] = []
    failures = [0]
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + profile.seed_budget

    def worker() -> None:
        client = Client(server.url, server.api_key)
        try:
            while time.perf_counter() < deadline:
                i = next(counter)
                if i >= count:
                    return
                status, payload = client.request("POST", "/workflows", diamond_workflow(f"seed-{i:05d}"))
                with lock:
                    if status == 201:
                        done.append(time.perf_counter())
                    else:
                        failures[0] += 1
                        if failures[0] == 1:
                            print(f"  ! seed: status {status}: {payload[:300]!r}", file=sys.stderr)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(profile.seed_threads)]
    for t in threads:
        t.start()
    last_report = started
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=0.5)
        if time.perf_counter() - last_report > 15:
            last_report = time.perf_counter()
            print(f"  seeding: {len(done):,}/{count:,} after {last_report - started:.0f}s", flush=True)
    elapsed = time.perf_counter() - started
    done.sort()
    block = max(25, len(done) // 8)
    blocks = []
    for k in range(0, len(done) - block + 1, block):
        t_begin = started if k == 0 else done[k - 1]
        span = done[k + block - 1] - t_begin
        blocks.append({"from": k, "to": k + block, "rate": block / span if span > 0 else float("nan")})
    return {
        "workflows": len(done),
        "failures": failures[0],
        "threads": profile.seed_threads,
        "seconds": round(elapsed, 2),
        "rate": len(done) / elapsed if elapsed else float("nan"),
        "block": block,
        "blocks": blocks,
        "stopped_by_budget": len(done) + failures[0] < count,
    }


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
            _run(rows, server, "GET /workflows/{id} (few stored)", conc, get_one, 200, profile)
        for conc in CONCURRENCY:
            _run(rows, server, "POST /workflows (10-task diamond, few stored)", conc, post_one, 201, profile)

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
        _run(rows, server, f"GET /workflows/{{id}} ({n} stored)", 1, get_one, 200, profile)
        for conc in CONCURRENCY:
            _run(rows, server, f"GET page 1 of 50 ({n} stored)", conc, list_first, 200, profile)
        for conc in CONCURRENCY:
            _run(rows, server, f"GET page of 50 at {deep:,} by nextToken", conc, list_token, 200, profile)
        for conc in CONCURRENCY:
            _run(rows, server, f"GET page of 50 at offset={deep:,}", conc, list_offset, 200, profile)
        # Last, because every write makes the runtime snapshot the whole table again.
        _run(rows, server, f"POST /workflows (10-task diamond, {n} stored)", 1, post_one, 201, profile)
    finally:
        server.stop()
    out["shutdown_seconds"] = server.stop_seconds
    out["exit_code"] = server.exit_code
    return out


def _run(
    rows: list[dict[str, Any]],
    server: DevServer,
    name: str,
    conc: int,
    fn: RequestFn,
    expect: int,
    profile: Profile,
) -> None:
    # Each multi-client run follows the one-client run of the same request, which warmed it.
    rows.append(measure(server, name, conc, fn, expect, profile, warmup=1 if conc == 1 else 0))
    _progress(rows[-1])


SEED_TEMPLATE_NAME = "bench-seed-template-7f3c"


def seed_data_dir(data_dir: Path, template_id: str, count: int) -> dict[str, Any]:
    """Add ``count`` copies of a workflow the API stored to the stopped runtime's saved data.

    Seeding 10,000 workflows over HTTP takes hours in the embedded runtime (every write costs
    O(stored items), see README), so the rest is written the way the runtime itself keeps its
    data between runs: its snapshot (DynamoDB JSON, one item a line) in the data directory,
    loaded at start. Nothing about the item layout is assumed beyond what the stored template shows:
    every item mentioning the template's id is copied with a new, older id (ids sort by
    creation time) and a new name, and the counter items of the list partitions the template
    belongs to (``COUNT#<GSInPK value>``) are raised by ``count``.
    """
    from orchestration_core.ids import new_id

    from orchestration_local.durability import read_snapshot, rewrite_snapshot

    path, entries = read_snapshot(data_dir / "dynamodb")
    lines = [json.dumps(entry, separators=(",", ":")) for entry in entries]
    templates = [line for line in lines if template_id in line]
    if not templates:
        raise RuntimeError(f"no saved item holds {template_id}")
    partitions: set[str] = set()
    for line in templates:
        item = json.loads(line)["i"]
        partitions.update(
            v["S"] for k, v in item.items() if k.startswith("GSI") and k.endswith("PK") and "S" in v
        )
    name_json = json.dumps(SEED_TEMPLATE_NAME)
    oldest_ms = int(time.time() * 1000) - 86_400_000 - count  # a day ago, one millisecond apart
    counters = 0
    out: list[dict[str, Any]] = []
    for entry in entries:
        item = entry["i"]
        pk = item.get("PK", {}).get("S", "")
        if pk.startswith("COUNT#") and pk.removeprefix("COUNT#") in partitions and "N" in item.get("n", {}):
            item["n"]["N"] = str(int(item["n"]["N"]) + count)
            counters += 1
        out.append(entry)
    for i in range(count):
        new = new_id("wf", oldest_ms + i)
        for line in templates:
            out.append(
                json.loads(line.replace(template_id, new).replace(name_json, json.dumps(f"seed-{i:05d}")))
            )
    rewrite_snapshot(path, out)
    return {"workflows": count, "items_per_workflow": len(templates), "counters_raised": counters}


def _progress(row: dict[str, Any]) -> None:
    print(
        f"  {row['name']:<46} c={row['concurrency']}  {row['rps']:8.1f} req/s  "
        f"p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  ({row['requests']} req)",
        flush=True,
    )


# ---------------------------------------------------------------------------------------- the floor
def _floor_item() -> dict[str, Any]:
    """A stored workflow item shaped like the service's (10-task diamond)."""
    body = diamond_workflow("floor")
    wid = "wf_01floorfloorfloorfloorfl"
    tasks = [
        {
            "name": t["name"],
            "type": t["type"],
            "config": t.get("config", {}),
            "dependsOn": t.get("dependsOn", []),
        }
        for t in body["tasks"]
    ]
    return {
        "PK": f"T#default#WF#{wid}",
        "SK": "WF",
        "entity": "workflow",
        "id": wid,
        "tenantId": "default",
        "name": body["name"],
        "description": body["description"],
        "status": "draft",
        "tasks": json.dumps(tasks, separators=(",", ":")),
        "version": 1,
        "revision": 1,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
        "GSI1PK": "T#default#WF",
        "GSI1SK": wid,
        "GSI2PK": "T#default#WF#S#draft",
        "GSI2SK": wid,
    }


def _time_loop(fn: Callable[[], Any], profile: Profile) -> dict[str, Any]:
    for _ in range(5):
        fn()
    lat: list[float] = []
    started = time.perf_counter()
    deadline = started + profile.duration
    while len(lat) < profile.max_requests and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    lat.sort()
    return {
        "requests": len(lat),
        "seconds": round(elapsed, 3),
        "rps": len(lat) / elapsed,
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "mean_ms": sum(lat) / len(lat) * 1000,
    }


def raw_get_item(profile: Profile) -> dict[str, Any]:
    """moto get_item through boto3, in this process, on the template's table: the floor."""
    import boto3
    from boto3.dynamodb.types import TypeSerializer
    from moto import mock_aws

    from orchestration_local.template import create_table_request, load_template

    tpl = load_template(REPO / "template.yaml")
    props = next(iter(tpl.tables.values()))
    ser = TypeSerializer()
    item = {k: ser.serialize(v) for k, v in _floor_item().items()}
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**create_table_request(props, "bench-floor"))
        client.put_item(TableName="bench-floor", Item=item)
        key = {"PK": item["PK"], "SK": item["SK"]}

        def get() -> None:
            resp = client.get_item(TableName="bench-floor", Key=key, ConsistentRead=True)
            assert "Item" in resp

        result = _time_loop(get, profile)
    return {"name": "raw moto get_item (boto3, in-process)", "concurrency": 1, **result}


def inprocess_breakdown(profile: Profile, workdir: Path) -> list[dict[str, Any]]:
    """The same GET without the HTTP server: the authorizer alone, then the whole gateway."""
    from orchestration_local.gateway import HttpRequest
    from orchestration_local.runtime import Runtime

    api_key = "orch_" + secrets.token_urlsafe(32)
    runtime = Runtime(workdir / "inprocess", persist=False)
    try:
        runtime.ensure_dev_key(api_key)
        auth = ("Authorization", f"Bearer {api_key}")
        created = runtime.gateway.handle(
            HttpRequest(
                "POST",
                "/workflows",
                headers=[auth, ("Content-Type", "application/json")],
                body=json.dumps(diamond_workflow("inprocess")).encode(),
            )
        )
        if created.status != 201:
            raise RuntimeError(f"in-process POST failed: {created.status} {created.body[:300]!r}")
        wid = json.loads(created.body)["id"]
        authorizer = runtime.template.authorizer
        assert authorizer is not None
        arn = f"arn:aws:execute-api:us-east-1:123456789012:local/{runtime.template.stage}/GET/workflows/{wid}"
        event = {"type": "TOKEN", "authorizationToken": f"Bearer {api_key}", "methodArn": arn}

        def authorize() -> None:
            runtime.functions.invoke(authorizer, event)

        def gateway_get() -> None:
            resp = runtime.gateway.handle(HttpRequest("GET", f"/workflows/{wid}", headers=[auth]))
            assert resp.status == 200, resp.body[:300]

        return [
            {
                "name": "authorizer Lambda alone (in-process)",
                "concurrency": 1,
                **_time_loop(authorize, profile),
            },
            {
                "name": "GET /workflows/{id} via gateway, no HTTP (in-process)",
                "concurrency": 1,
                **_time_loop(gateway_get, profile),
            },
        ]
    finally:
        runtime.close()


# ---------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_api", description=__doc__.split("\n")[0])
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
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
