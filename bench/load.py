"""Load benchmark of the embedded runtime: many clients, several tenants, a mixed workload, then checks.

Starts ``orchestration dev --port 0 --quiet --tasks examples/etl_tasks.py`` as a subprocess,
makes one API key per tenant with ``orchestration keys create``, and drives the API over
keep-alive HTTP/1.1 (``http.client``, one connection per client thread) for a bounded time
and a bounded number of requests, with this mix of operations:

  create workflow 20, update (If-Match; some deliberately stale -> 412) 15, execute (some
  with a reused Idempotency-Key -> the same execution) 10, get workflow 25, list workflows
  (status filter, nextToken paging) 15, get/list executions 15, delete workflow 2

Every status code is recorded per operation. Errors: any 5xx, any connection error, any
status the request did not expect (a 4xx it did not deliberately provoke), and any answer
that contradicts what the clients were acknowledged (e.g. a read older than an acknowledged
write, another tenant's id in a list). Afterwards the state is verified: every acknowledged
create is readable with the state of the highest revision acknowledged for it, deleted
workflows are gone, each tenant's ``total`` (per status filter too) equals its acknowledged
creates minus deletes and the items paged through with nextToken, no tenant sees another's
ids, every acknowledged execution reaches a terminal state in time, and execution totals per
workflow and per tenant are exact. The server is stopped with SIGINT; it must exit 0.

    python -m bench.load            # 60 s of load, 16 clients, 4 tenants
    python -m bench.load --quick    # 15 s of load

Prints a table and a verdict line, writes bench/results/load.json, exits 1 if the verdict fails.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from bench._util import REPO, DevServer, environment, percentile, table, write_results

ETL_TASKS = REPO / "examples" / "etl_tasks.py"
TASK_SECONDS = 0.05  # config.seconds of each ETL task: executions stay short
WF_STATUSES = ("draft", "active")  # never "inactive": executing it would be a 409 by design
EX_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
EX_TERMINAL = frozenset({"completed", "failed", "cancelled"})
HOT_PER_TENANT = 3  # each tenant's first workflows take half of the updates (contention); never deleted


@dataclass(frozen=True)
class Profile:
    duration: float  # seconds of load
    max_requests: int  # hard cap on requests in the load phase
    threads: int
    tenants: int
    seed_per_tenant: int  # workflows created before the clock starts (so reads have targets)
    exec_wait: float  # seconds the verification waits for executions to end


FULL = Profile(duration=60.0, max_requests=60_000, threads=16, tenants=4, seed_per_tenant=4, exec_wait=180.0)
QUICK = Profile(duration=15.0, max_requests=15_000, threads=16, tenants=4, seed_per_tenant=4, exec_wait=120.0)

MIX = {
    "create": 20,
    "update": 15,
    "execute": 10,
    "get": 25,
    "list_workflows": 15,
    "executions": 15,
    "delete": 2,
}


def etl_tasks(seconds: float = TASK_SECONDS) -> list[dict[str, Any]]:
    cfg = {"seconds": seconds}
    return [
        {"name": "extract", "type": "data-extraction", "config": cfg},
        {"name": "transform", "type": "data-transformation", "dependsOn": ["extract"], "config": cfg},
        {"name": "load", "type": "data-loading", "dependsOn": ["transform"], "config": cfg},
    ]


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def other_benchmarks() -> list[str]:
    """Other `bench.run_all` processes (not this one or its parents)."""
    try:
        out = subprocess.run(["pgrep", "-af", "bench.run_all"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return []
    mine = {os.getpid(), os.getppid()}
    lines = []
    for line in out.stdout.splitlines():
        pid, _, cmd = line.partition(" ")
        if pid.isdigit() and int(pid) not in mine and "pgrep" not in cmd:
            lines.append(line)
    return lines


# ---------------------------------------------------------------------------------------- stats
@dataclass
class OpStats:
    latencies: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)  # perf_counter() when each answer arrived
    statuses: Counter[str] = field(default_factory=Counter)
    unexpected: int = 0  # unexpected status, connection error or contradicting answer
    server_errors: int = 0  # 5xx
    conn_errors: int = 0

    def merge(self, other: OpStats) -> None:
        self.latencies.extend(other.latencies)
        self.ends.extend(other.ends)
        self.statuses.update(other.statuses)
        self.unexpected += other.unexpected
        self.server_errors += other.server_errors
        self.conn_errors += other.conn_errors


class Stats:
    """One per thread (no locking); merged at the end."""

    def __init__(self) -> None:
        self.ops: dict[str, OpStats] = {}
        self.samples: list[dict[str, Any]] = []
        self.anomalies: Counter[str] = Counter()

    def op(self, label: str) -> OpStats:
        if label not in self.ops:
            self.ops[label] = OpStats()
        return self.ops[label]

    def problem(self, label: str, kind: str, detail: str) -> None:
        """An answer that contradicts what the clients were acknowledged (counted as an error)."""
        self.anomalies[kind] += 1
        self.op(label).unexpected += 1
        if len(self.samples) < 30:
            self.samples.append({"op": label, "kind": kind, "detail": detail[:400]})

    def merge(self, other: Stats) -> None:
        for label, s in other.ops.items():
            self.op(label).merge(s)
        self.samples.extend(other.samples[: max(0, 60 - len(self.samples))])
        self.anomalies.update(other.anomalies)


class Exhausted(Exception):
    """The request budget is spent."""


class Budget:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._count = itertools.count()
        self.deadline = float("inf")

    def take(self) -> None:
        if next(self._count) >= self.cap:
            raise Exhausted

    @property
    def spent(self) -> bool:
        return time.perf_counter() >= self.deadline


# ---------------------------------------------------------------------------------------- client
@dataclass
class Resp:
    status: int
    headers: dict[str, str]
    body: bytes
    _json: Any = None

    def json(self) -> Any:
        if self._json is None:
            self._json = json.loads(self.body)
        return self._json

    @property
    def revision(self) -> int | None:
        etag = self.headers.get("etag", "").removeprefix("W/").strip('"')
        return int(etag) if etag.isdigit() else None


OkFn = Callable[[int], bool]


class Client:
    """One keep-alive HTTP/1.1 connection. No retries: a failed request is a result, not noise."""

    def __init__(self, base_url: str, api_key: str, stats: Stats, budget: Budget | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.auth = f"Bearer {api_key}"
        self.stats = stats
        self.budget = budget
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def call(
        self,
        label: str,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        ok: Iterable[int] | OkFn = (200,),
    ) -> Resp | None:
        """The response (whatever its status), or None after a connection error. Records it."""
        if self.budget is not None:
            self.budget.take()
        hdrs = {"Authorization": self.auth, **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        s = self.stats.op(label)
        t0 = time.perf_counter()
        try:
            self.conn.request(method, self.prefix + path, body=data, headers=hdrs)
            raw = self.conn.getresponse()
            resp = Resp(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
        except (http.client.HTTPException, OSError) as err:
            s.ends.append(time.perf_counter())
            s.latencies.append(s.ends[-1] - t0)
            s.statuses["conn-error"] += 1
            s.conn_errors += 1
            s.unexpected += 1
            self._sample(label, method, path, "conn-error", repr(err))
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            return None
        s.ends.append(time.perf_counter())
        s.latencies.append(s.ends[-1] - t0)
        s.statuses[str(resp.status)] += 1
        good = ok(resp.status) if callable(ok) else resp.status in set(ok)
        if resp.status >= 500:
            s.server_errors += 1
        if not good or resp.status >= 500:
            s.unexpected += 1
            self._sample(label, method, path, str(resp.status), resp.body[:300].decode(errors="replace"))
        return resp

    def _sample(self, label: str, method: str, path: str, status: str, detail: str) -> None:
        if len(self.stats.samples) < 30:
            self.stats.samples.append(
                {
                    "op": label,
                    "kind": "status",
                    "request": f"{method} {path}",
                    "status": status,
                    "detail": detail,
                }
            )

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------------------------------- acknowledged
@dataclass
class Wf:
    id: str
    tenant: int
    acked: dict[int, tuple[str, str, str, int]]  # revision -> (name, description, status, version)
    max_rev: int
    hot: bool = False
    deleting: bool = False  # a DELETE was sent (reads may 404 from then on)
    deleted: bool = False  # ... and acknowledged
    uncertain: int = 0  # writes whose outcome is unknown (connection error)
    executions: set[str] = field(default_factory=set)

    def state(self) -> tuple[str, str, str, int]:
        return self.acked[self.max_rev]


@dataclass
class IdemKey:
    key: str
    wf_id: str
    ids: set[str] = field(default_factory=set)  # execution ids answered for this key (must be one)


class Tenant:
    def __init__(self, index: int, name: str, api_key: str) -> None:
        self.index = index
        self.name = name
        self.api_key = api_key
        self.wfs: dict[str, Wf] = {}
        self.live: list[str] = []  # not being deleted
        self.hot: list[str] = []
        self.executions: dict[str, str] = {}  # acknowledged execution id -> workflow id
        self.keys: list[IdemKey] = []
        self.uncertain_creates = 0
        self.uncertain_executes = 0


class World:
    """Everything the clients were acknowledged, shared by all threads under one lock."""

    def __init__(self, tenants: list[Tenant]) -> None:
        self.tenants = tenants
        self.lock = threading.Lock()
        self.owner: dict[str, int] = {}  # workflow or execution id -> tenant index

    def add_workflow(self, t: Tenant, data: dict[str, Any], rev: int) -> None:
        with self.lock:
            wf = Wf(data["id"], t.index, {rev: snapshot(data)}, rev, hot=len(t.hot) < HOT_PER_TENANT)
            t.wfs[wf.id] = wf
            t.live.append(wf.id)
            if wf.hot:
                t.hot.append(wf.id)
            self.owner[wf.id] = t.index

    def pick(self, t: Tenant, rng: random.Random, hot_share: float = 0.0) -> tuple[Wf, int] | None:
        """A workflow not being deleted, and the highest revision acknowledged for it right now."""
        with self.lock:
            pool = t.hot if t.hot and rng.random() < hot_share else t.live
            if not pool:
                return None
            wf = t.wfs[rng.choice(pool)]
            return wf, wf.max_rev

    def foreign_id(self, t: Tenant, rng: random.Random, kind: str = "wf") -> str | None:
        with self.lock:
            others = [o for o in self.tenants if o is not t and (o.wfs if kind == "wf" else o.executions)]
            if not others:
                return None
            other = rng.choice(others)
            return rng.choice(list(other.wfs if kind == "wf" else other.executions))


def snapshot(data: dict[str, Any]) -> tuple[str, str, str, int]:
    return (data["name"], data["description"], data["status"], int(data["version"]))


# ---------------------------------------------------------------------------------------- the workload
class Worker:
    def __init__(
        self,
        idx: int,
        tenant: Tenant,
        world: World,
        url: str,
        budget: Budget,
        weights: dict[str, int],
        seed: int,
    ) -> None:
        self.idx = idx
        self.t = tenant
        self.world = world
        self.stats = Stats()
        self.c = Client(url, tenant.api_key, self.stats, budget)
        self.budget = budget
        self.rng = random.Random(seed * 1000 + idx)
        self.ops = [op for op, w in weights.items() if w > 0]
        self.weights = [weights[op] for op in self.ops]
        self.n = 0

    def run(self, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            while not self.budget.spent:
                op = self.rng.choices(self.ops, self.weights)[0]
                getattr(self, f"op_{op}")()
        except Exhausted:
            pass
        finally:
            self.c.close()

    def _name(self, what: str) -> str:
        self.n += 1
        return f"{what}-t{self.t.index}-c{self.idx}-{self.n}"

    # -- workflows ---------------------------------------------------------------------------------
    def op_create(self, label: str = "create") -> None:
        body = {
            "name": self._name("wf"),
            "description": f"load client {self.idx}",
            "status": self.rng.choice(WF_STATUSES),
            "tasks": etl_tasks(),
        }
        r = self.c.call(label, "POST", "/workflows", body, ok=(201,))
        if r is None:
            with self.world.lock:
                self.t.uncertain_creates += 1
            return
        if r.status != 201:
            return
        data = r.json()
        if (data["name"], data["description"], data["status"]) != (
            body["name"],
            body["description"],
            body["status"],
        ) or r.revision != 1:
            self.stats.problem(
                label, "create answer differs from request", f"{body['name']}: {r.body[:200]!r}"
            )
        self.world.add_workflow(self.t, data, r.revision or 1)

    def op_update(self) -> None:
        picked = self.world.pick(self.t, self.rng, hot_share=0.5)
        if picked is None:
            return self.op_create()
        wf, rev = picked
        roll = self.rng.random()
        body: dict[str, Any] = {}
        if self.rng.random() < 0.7:
            body["name"] = self._name("upd")
        if self.rng.random() < 0.6 or not body:
            body["description"] = f"updated by client {self.idx} #{self.n}"
        if self.rng.random() < 0.3:
            body["status"] = self.rng.choice(WF_STATUSES)
        if self.rng.random() < 0.1:
            body["tasks"] = etl_tasks(self.rng.choice((TASK_SECONDS, TASK_SECONDS * 0.8)))
        headers: dict[str, str] = {}
        if roll < 0.25:
            label = "update (stale If-Match -> 412)"
            headers["If-Match"] = f'"{rev - 1}"'  # revisions only grow: older than one acknowledged
            expected: set[int] = {412}
        elif roll < 0.75:
            label = "update (If-Match latest)"
            headers["If-Match"] = f'"{rev}"'
            expected = {200, 412}  # 412: another client got there first
        else:
            label = "update (no If-Match)"
            expected = {200}
        r = self.c.call(
            label,
            "PUT",
            f"/workflows/{wf.id}",
            body,
            headers,
            ok=lambda s: s in expected or (s == 404 and wf.deleting),
        )
        if r is None:
            with self.world.lock:
                wf.uncertain += 1
            return
        if r.status != 200:
            return
        data = r.json()
        new_rev = r.revision
        if new_rev is None:
            return self.stats.problem(label, "no ETag", f"PUT {wf.id}")
        if any(data[k] != v for k, v in body.items() if k != "tasks"):
            self.stats.problem(label, "update answer differs from request", f"{wf.id}: {r.body[:200]!r}")
        if new_rev <= rev or ("If-Match" in headers and new_rev != rev + 1):
            self.stats.problem(label, "revision not after If-Match/acked", f"{wf.id}: {rev} -> {new_rev}")
        with self.world.lock:
            seen = wf.acked.get(new_rev)
            if seen is not None and seen != snapshot(data):
                self.stats.problem(label, "two states acked at one revision", f"{wf.id} rev {new_rev}")
            wf.acked[new_rev] = snapshot(data)
            wf.max_rev = max(wf.max_rev, new_rev)

    def op_get(self) -> None:
        if self.rng.random() < 0.1:
            other = self.world.foreign_id(self.t, self.rng)
            if other is not None:
                self.c.call("get (other tenant's id -> 404)", "GET", f"/workflows/{other}", ok=(404,))
                return
        picked = self.world.pick(self.t, self.rng, hot_share=0.2)
        if picked is None:
            return self.op_create()
        wf, rev = picked
        label = "get workflow"
        r = self.c.call(
            label, "GET", f"/workflows/{wf.id}", ok=lambda s: s == 200 or (s == 404 and wf.deleting)
        )
        if r is None or r.status != 200:
            return
        got = r.revision
        if r.json().get("id") != wf.id:
            self.stats.problem(label, "wrong workflow", f"{wf.id}: {r.body[:200]!r}")
        elif got is None or got < rev:
            self.stats.problem(label, "read older than an acked write", f"{wf.id}: acked {rev}, read {got}")

    def op_delete(self) -> None:
        with self.world.lock:
            candidates = [w for w in self.t.live if not self.t.wfs[w].hot]
            if not candidates:
                return
            wf = self.t.wfs[self.rng.choice(candidates)]
            wf.deleting = True
            self.t.live.remove(wf.id)
        r = self.c.call("delete", "DELETE", f"/workflows/{wf.id}", ok=(200,))
        with self.world.lock:
            if r is None:
                wf.uncertain += 1
            elif r.status == 200:
                wf.deleted = True

    def op_list_workflows(self) -> None:
        status = self.rng.choice((None, None, *WF_STATUSES))
        limit = self.rng.choice((10, 25, 50))
        pages = self.rng.randint(1, 3)
        label = "list workflows" + (" (status)" if status else "")
        self._walk(label, "/workflows", "workflows", {"status": status}, limit, pages, exact_total=True)

    # -- executions --------------------------------------------------------------------------------
    def op_execute(self) -> None:
        picked = self.world.pick(self.t, self.rng, hot_share=0.2)
        if picked is None:
            return self.op_create()
        wf, _ = picked
        roll = self.rng.random()
        key: IdemKey | None = None
        label = "execute"
        expected = {202}
        if roll >= 0.4:
            with self.world.lock:
                reusable = self.t.keys if roll >= 0.7 else []
                if reusable:
                    key = self.rng.choice(reusable)
                    acked_keys = [k for k in reusable if k.ids]
                    if self.rng.random() < 0.15 and acked_keys and len(self.t.live) > 1:
                        key = self.rng.choice(acked_keys)
                        others = [w for w in self.t.live if w != key.wf_id]
                        wf = self.t.wfs[self.rng.choice(others)]
                        label, expected = "execute (key of another workflow -> 409)", {409}
                    else:
                        wf = self.t.wfs[key.wf_id]
                        label = "execute (Idempotency-Key reused)"
                else:
                    # Published before it is sent: another client may reuse it concurrently.
                    key = IdemKey(f"load-{secrets.token_hex(8)}", wf.id)
                    self.t.keys.append(key)
                    label = "execute (new Idempotency-Key)"
        headers = {"Idempotency-Key": key.key} if key else {}
        r = self.c.call(
            label,
            "POST",
            f"/workflows/{wf.id}/execute",
            {"parameters": {"rows": 3}},
            headers,
            ok=lambda s: s in expected or (s == 404 and wf.deleting),
        )
        if r is None:
            with self.world.lock:
                self.t.uncertain_executes += 1
            return
        if r.status != 202:
            return
        ex_id = r.json()["executionId"]
        if r.headers.get("location", "").rsplit("/", 1)[-1] != ex_id:
            self.stats.problem(label, "Location header", f"{ex_id}: {r.headers.get('location')}")
        with self.world.lock:
            if key is not None:
                if key.ids and ex_id not in key.ids:
                    self.stats.problem(label, "Idempotency-Key gave another execution", f"{key.key}: {ex_id}")
                key.ids.add(ex_id)
            self.t.executions[ex_id] = wf.id
            wf.executions.add(ex_id)
            self.world.owner[ex_id] = self.t.index

    def op_executions(self) -> None:
        roll = self.rng.random()
        if roll < 0.05:
            other = self.world.foreign_id(self.t, self.rng, kind="ex")
            if other is not None:
                self.c.call("get execution (other tenant's -> 404)", "GET", f"/executions/{other}", ok=(404,))
                return
        if roll < 0.5:
            with self.world.lock:
                ex_id = self.rng.choice(list(self.t.executions)) if self.t.executions else None
                wf_id = self.t.executions.get(ex_id or "")
            if ex_id is not None:
                label = "get execution"
                r = self.c.call(label, "GET", f"/executions/{ex_id}")
                if r is not None and r.status == 200:
                    data = r.json()
                    if data.get("id") != ex_id or data.get("workflowId") != wf_id:
                        self.stats.problem(label, "wrong execution", f"{ex_id}: {r.body[:200]!r}")
                return
        with self.world.lock:
            wf_id = self.rng.choice(list(self.t.wfs)) if self.t.wfs and self.rng.random() < 0.6 else None
        status = self.rng.choice(EX_STATUSES) if self.rng.random() < 0.3 else None
        label = "list executions" + (" (workflowId)" if wf_id else "") + (" (status)" if status else "")
        query = {"workflowId": wf_id, "status": status}
        self._walk(label, "/executions", "executions", query, self.rng.choice((10, 25, 50)), 2, not status)

    # -- paging ------------------------------------------------------------------------------------
    def _walk(
        self,
        label: str,
        path: str,
        key: str,
        query: dict[str, str | None],
        limit: int,
        pages: int,
        exact_total: bool,
    ) -> None:
        """Up to ``pages`` pages by nextToken, checking tenancy, filters, order and duplicates.

        ``exact_total``: a list whose membership only API calls change (API calls run one at a
        time in the embedded runtime), so a single complete page must hold ``total`` items.
        """
        base = "&".join(f"{k}={quote(v)}" for k, v in query.items() if v)
        token: str | None = None
        seen: set[str] = set()
        for n in range(pages):
            q = (
                f"limit={limit}"
                + (f"&{base}" if base else "")
                + (f"&nextToken={quote(token)}" if token else "")
            )
            r = self.c.call(label, "GET", f"{path}?{q}")
            if r is None or r.status != 200:
                return
            data = r.json()
            ids = [item["id"] for item in data[key]]
            with self.world.lock:
                foreign = [i for i in ids if self.world.owner.get(i, self.t.index) != self.t.index]
            if foreign:
                self.stats.problem(label, "another tenant's id listed", f"{path}?{q}: {foreign[:3]}")
            for k, v in query.items():
                if v and any(item.get(k) != v for item in data[key]):
                    self.stats.problem(label, f"{k} filter not applied", f"{path}?{q}")
            if ids != sorted(ids, reverse=True):
                self.stats.problem(label, "page not newest first", f"{path}?{q}")
            if seen & set(ids):
                self.stats.problem(
                    label, "duplicate across pages", f"{path}?{q}: {sorted(seen & set(ids))[:3]}"
                )
            seen.update(ids)
            token = data.get("nextToken")
            if n == 0 and token is None and exact_total and len(ids) != data["total"]:
                self.stats.problem(
                    label, "one full page != total", f"{path}?{q}: {len(ids)} vs {data['total']}"
                )
            if token is None:
                return


# ---------------------------------------------------------------------------------------- verification
def walk_all(c: Client, label: str, path: str, key: str, query: str) -> tuple[list[str], list[int], bool]:
    """Every item id by nextToken (limit 100), the total of each page, and whether all pages answered."""
    ids: list[str] = []
    totals: list[int] = []
    token: str | None = None
    for _ in range(10_000):
        q = "limit=100" + (f"&{query}" if query else "") + (f"&nextToken={quote(token)}" if token else "")
        r = c.call(label, "GET", f"{path}?{q}")
        if r is None or r.status != 200:
            return ids, totals, False
        data = r.json()
        ids.extend(item["id"] for item in data[key])
        totals.append(int(data["total"]))
        token = data.get("nextToken")
        if not token:
            break
    return ids, totals, True


@dataclass
class Verdict:
    lost_creates: int = 0  # acknowledged create not readable
    lost_updates: int = 0  # acknowledged revision missing, or its state not what was acknowledged
    phantom_writes: int = 0  # a revision beyond the acknowledged ones with no unknown outcome to explain it
    deleted_readable: int = 0
    lost_executions: int = 0  # acknowledged execute not readable
    unverifiable: int = 0  # workflows with writes of unknown outcome (connection errors)
    totals_checked: int = 0
    totals_wrong: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    idempotency_violations: int = 0
    not_terminal: int = 0
    exec_status: Counter[str] = field(default_factory=Counter)

    @property
    def lost_writes(self) -> int:
        return self.lost_creates + self.lost_updates + self.lost_executions

    def merge(self, o: Verdict) -> None:
        for name in (
            "lost_creates",
            "lost_updates",
            "phantom_writes",
            "deleted_readable",
            "lost_executions",
            "unverifiable",
            "totals_checked",
            "idempotency_violations",
            "not_terminal",
        ):
            setattr(self, name, getattr(self, name) + getattr(o, name))
        self.totals_wrong += o.totals_wrong
        self.leaks += o.leaks
        self.exec_status.update(o.exec_status)


def verify_workflows(url: str, t: Tenant, world: World, stats: Stats, v: Verdict) -> None:
    c = Client(url, t.api_key, stats)
    try:
        expected: dict[str | None, set[str]] = {None: set(), **{s: set() for s in (*WF_STATUSES, "inactive")}}
        for wf in t.wfs.values():
            r = c.call(
                "verify: GET workflow", "GET", f"/workflows/{wf.id}", ok=(404,) if wf.deleted else (200, 404)
            )
            if wf.uncertain or (wf.deleting and not wf.deleted):
                v.unverifiable += 1
                continue
            if r is None:
                continue
            if wf.deleted:
                if r.status != 404:
                    v.deleted_readable += 1
                    stats.problem("verify: GET workflow", "deleted workflow readable", wf.id)
                continue
            status = wf.state()[2]
            expected[None].add(wf.id)
            expected[status].add(wf.id)
            if r.status == 404:
                if wf.max_rev == 1:
                    v.lost_creates += 1
                    stats.problem("verify: GET workflow", "acked create lost", wf.id)
                else:
                    v.lost_updates += 1
                    stats.problem("verify: GET workflow", "acked workflow gone", wf.id)
                continue
            if r.status != 200:
                continue
            rev = r.revision or 0
            got = snapshot(r.json())
            if rev < wf.max_rev:
                v.lost_updates += 1
                stats.problem(
                    "verify: GET workflow", "acked revision lost", f"{wf.id}: acked {wf.max_rev}, has {rev}"
                )
            elif rev > wf.max_rev:
                v.phantom_writes += 1
                stats.problem(
                    "verify: GET workflow",
                    "unacknowledged revision",
                    f"{wf.id}: acked {wf.max_rev}, has {rev}",
                )
            elif got != wf.state():
                v.lost_updates += 1
                stats.problem(
                    "verify: GET workflow", "acked state differs", f"{wf.id}: {wf.state()} vs {got}"
                )
        uncertain = t.uncertain_creates or any(
            w.uncertain or (w.deleting and not w.deleted) for w in t.wfs.values()
        )
        for status, want in expected.items():
            query = f"status={status}" if status else ""
            label = "verify: list workflows"
            ids, totals, complete = walk_all(c, label, "/workflows", "workflows", query)
            v.totals_checked += 1
            name = f"{t.name} workflows{' status=' + status if status else ''}"
            foreign = [i for i in ids if world.owner.get(i, t.index) != t.index]
            if foreign:
                v.leaks.append(f"{name}: {foreign[:3]}")
            wrong = []
            if not complete:
                wrong.append("paging failed")
            if totals and len(set(totals)) != 1:
                wrong.append(f"total changed while paging {sorted(set(totals))}")
            if totals and totals[0] != len(ids):
                wrong.append(f"total {totals[0]} but {len(ids)} items paged")
            if len(set(ids)) != len(ids):
                wrong.append(f"{len(ids) - len(set(ids))} duplicates")
            if not uncertain and (not totals or totals[0] != len(want)):
                wrong.append(f"total {totals[0] if totals else '?'}, acknowledged {len(want)}")
            if not uncertain and set(ids) != want:
                wrong.append(f"{len(want - set(ids))} missing, {len(set(ids) - want)} unexpected")
            if wrong:
                v.totals_wrong.append(f"{name}: {'; '.join(wrong)}")
        for _ in range(5):  # direct reads of other tenants' ids
            other = world.foreign_id(t, random.Random(t.index))
            if other is not None:
                r = c.call("verify: GET other tenant's workflow", "GET", f"/workflows/{other}", ok=(404,))
                if r is not None and r.status != 404:
                    v.leaks.append(f"{t.name} read {other} (status {r.status})")
    finally:
        c.close()


def verify_executions(url: str, t: Tenant, world: World, stats: Stats, v: Verdict, deadline: float) -> None:
    c = Client(url, t.api_key, stats)
    try:
        for key in t.keys:
            if len(key.ids) > 1:
                v.idempotency_violations += 1
                stats.problem("verify: idempotency", "one key, several executions", f"{key.key}: {key.ids}")
        final: dict[str, str] = {}
        pending = list(t.executions)
        while pending:
            still = []
            for ex_id in pending:
                r = c.call("verify: poll execution", "GET", f"/executions/{ex_id}", ok=(200,))
                if r is None:
                    still.append(ex_id)
                    continue
                if r.status == 404:
                    v.lost_executions += 1
                    stats.problem("verify: poll execution", "acked execution lost", ex_id)
                    continue
                if r.status != 200:
                    still.append(ex_id)
                    continue
                data = r.json()
                if data.get("workflowId") != t.executions[ex_id]:
                    stats.problem(
                        "verify: poll execution", "wrong workflow", f"{ex_id}: {data.get('workflowId')}"
                    )
                if data["status"] in EX_TERMINAL:
                    final[ex_id] = data["status"]
                    if data["status"] != "completed":
                        stats.problem(
                            "verify: poll execution",
                            f"execution {data['status']}",
                            f"{ex_id}: {json.dumps(data.get('error'))[:300]}",
                        )
                else:
                    still.append(ex_id)
            pending = still
            if pending:
                if time.perf_counter() > deadline:
                    break
                time.sleep(0.5)
        v.not_terminal += len(pending)
        v.exec_status.update(final.values())
        v.exec_status["not terminal"] += len(pending)
        uncertain = t.uncertain_executes > 0
        by_wf: dict[str, set[str]] = {}
        for ex_id, wf_id in t.executions.items():
            by_wf.setdefault(wf_id, set()).add(ex_id)
        idle = [w for w in t.wfs if w not in by_wf][:20]
        checks: list[tuple[str, str, set[str]]] = [
            (f"{t.name} executions of {w}", f"workflowId={w}", by_wf.get(w, set())) for w in [*by_wf, *idle]
        ]
        checks.append((f"{t.name} executions", "", set(t.executions)))
        if not pending:  # the stored status is final: per-status totals are exact
            for s in EX_STATUSES:
                want = {e for e, st in final.items() if st == s}
                checks.append((f"{t.name} executions status={s}", f"status={s}", want))
        for name, query, want in checks:
            ids, totals, complete = walk_all(c, "verify: list executions", "/executions", "executions", query)
            v.totals_checked += 1
            foreign = [i for i in ids if world.owner.get(i, t.index) != t.index]
            if foreign:
                v.leaks.append(f"{name}: {foreign[:3]}")
            wrong = []
            if not complete:
                wrong.append("paging failed")
            if totals and totals[0] != len(ids):
                wrong.append(f"total {totals[0]} but {len(ids)} items paged")
            if not uncertain and (not totals or totals[0] != len(want)):
                wrong.append(f"total {totals[0] if totals else '?'}, acknowledged {len(want)}")
            if not uncertain and set(ids) != want:
                wrong.append(f"{len(want - set(ids))} missing, {len(set(ids) - want)} unexpected")
            if wrong:
                v.totals_wrong.append(f"{name}: {'; '.join(wrong)}")
    finally:
        c.close()


# ---------------------------------------------------------------------------------------- main
def run(profile: Profile, weights: dict[str, int], seed: int, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"loadavg": {"start": loadavg()}}
    server = DevServer(workdir, "orch_" + secrets.token_urlsafe(32), "--tasks", str(ETL_TASKS))
    server.start()
    out["startup_seconds"] = round(server.ready_seconds, 2)
    print(f"embedded runtime ready in {server.ready_seconds:.1f}s at {server.url}", flush=True)
    try:
        run_id = secrets.token_hex(3)
        tenants = [
            Tenant(i, f"load-{run_id}-{i}", server.create_key(f"load-{run_id}-{i}"))
            for i in range(profile.tenants)
        ]
        world = World(tenants)
        budget = Budget(profile.max_requests)
        workers = [
            Worker(i, tenants[i % len(tenants)], world, server.url, budget, weights, seed)
            for i in range(profile.threads)
        ]
        # Seed (not measured): a few workflows per tenant, so reads and updates have targets.
        seed_stats = Stats()
        for t in tenants:
            w = Worker(-1 - t.index, t, world, server.url, Budget(10**9), weights, seed)
            w.stats = seed_stats
            w.c.stats = seed_stats
            for _ in range(profile.seed_per_tenant):
                w.op_create("seed: create")
            w.c.close()

        print(
            f"load: {profile.threads} clients over {profile.tenants} tenants for {profile.duration:.0f}s"
            f" (at most {profile.max_requests:,} requests); load average {loadavg()}",
            flush=True,
        )
        out["loadavg"]["before_load"] = loadavg()
        barrier = threading.Barrier(len(workers) + 1)
        threads = [threading.Thread(target=w.run, args=(barrier,), daemon=True) for w in workers]
        for th in threads:
            th.start()
        cpu0 = server.cpu_seconds()
        started = time.perf_counter()
        budget.deadline = started + profile.duration
        barrier.wait()
        while any(th.is_alive() for th in threads):
            for th in threads:
                th.join(timeout=1.0)
            if time.perf_counter() - started > profile.duration + 300:
                raise RuntimeError("clients still busy 5 minutes after the deadline")
        elapsed = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu0
        out["loadavg"]["after_load"] = loadavg()
        load = Stats()
        for w in workers:
            load.merge(w.stats)
        requests = sum(len(s.latencies) for s in load.ops.values())
        window = 10.0 if profile.duration >= 30 else 5.0
        buckets = Counter(int((t - started) // window) for s in load.ops.values() for t in s.ends)
        out["load"] = {
            "seconds": round(elapsed, 2),
            "requests": requests,
            "rps": requests / elapsed if elapsed else float("nan"),
            "server_cpu_seconds": round(cpu, 2),
            "server_cpu_ms_per_request": cpu / requests * 1000 if requests else float("nan"),
            "capped": requests >= profile.max_requests,
            "window_seconds": window,
            # Requests answered per window of the load phase (answers after the deadline left out).
            "rps_by_window": [round(buckets[i] / window, 1) for i in range(int(profile.duration // window))],
        }
        print(f"  {requests:,} requests in {elapsed:.1f}s; verifying ...", flush=True)

        # Verify: one client per tenant, in parallel.
        vstats = [Stats() for _ in tenants]
        verdicts = [Verdict() for _ in tenants]
        t0 = time.perf_counter()
        exec_deadline = t0 + profile.exec_wait

        def verify(i: int) -> None:
            verify_workflows(server.url, tenants[i], world, vstats[i], verdicts[i])
            verify_executions(server.url, tenants[i], world, vstats[i], verdicts[i], exec_deadline)

        vthreads = [threading.Thread(target=verify, args=(i,), daemon=True) for i in range(len(tenants))]
        for th in vthreads:
            th.start()
        for th in vthreads:
            th.join()
        # The dev key's tenant: nobody wrote there, so it must see nothing.
        default_stats = Stats()
        c = Client(server.url, server.api_key, default_stats)
        r = c.call("verify: default tenant list", "GET", "/workflows?limit=100")
        c.close()
        verdict = Verdict()
        for v in verdicts:
            verdict.merge(v)
        if r is not None and r.status == 200 and (r.json()["total"] or r.json()["workflows"]):
            verdict.leaks.append(f"default tenant sees {r.json()['total']} workflows")
        verify_stats = Stats()
        for s in [*vstats, default_stats]:
            verify_stats.merge(s)
        out["verify_seconds"] = round(time.perf_counter() - t0, 1)
        out["loadavg"]["after_verify"] = loadavg()
        out["tracebacks_in_server_log"] = server.tracebacks()
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        out["stop"] = server.stop()
    out.update(
        {
            "tenants": tenants,
            "load_stats": load,
            "seed_stats": seed_stats,
            "verify_stats": verify_stats,
            "verdict": verdict,
            "server_log_tail": server.log_tail(1500) if out["stop"]["exit_code"] != 0 else None,
        }
    )
    return out


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
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
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
    for s in samples:
        print(f"  ! {s}")
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
    print("verdict: " + ("PASS" if not failures else "FAIL (" + "; ".join(failures) + ")"))

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
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
