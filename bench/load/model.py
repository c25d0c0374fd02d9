"""What the load benchmark runs and keeps: its sizes and mix, per-operation statistics, the
request budget, and everything the clients were acknowledged (tenants, workflows, executions,
Idempotency-Keys)."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.harness import REPO

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
