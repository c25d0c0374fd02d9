"""Verification after the clients stop: every acknowledged write against the stored state, and
every total and list exact."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

from bench.load.client import Client
from bench.load.model import (
    EX_STATUSES,
    EX_TERMINAL,
    WF_STATUSES,
    Stats,
    Tenant,
    World,
    snapshot,
)


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


def check_list(
    t: Tenant,
    world: World,
    v: Verdict,
    name: str,
    listed: tuple[list[str], list[int], bool],
    want: set[str],
    uncertain: bool,
    strict: bool,
) -> None:
    """A list walked with ``walk_all`` against what was acknowledged: no other tenant's ids,
    ``total`` = the items paged = the acknowledged ones, the same ids (unless a write of unknown
    outcome makes the acknowledged set uncertain). ``strict``: also the same total on every page
    and no id twice."""
    ids, totals, complete = listed
    v.totals_checked += 1
    foreign = [i for i in ids if world.owner.get(i, t.index) != t.index]
    if foreign:
        v.leaks.append(f"{name}: {foreign[:3]}")
    wrong = []
    if not complete:
        wrong.append("paging failed")
    if strict and totals and len(set(totals)) != 1:
        wrong.append(f"total changed while paging {sorted(set(totals))}")
    if totals and totals[0] != len(ids):
        wrong.append(f"total {totals[0]} but {len(ids)} items paged")
    if strict and len(set(ids)) != len(ids):
        wrong.append(f"{len(ids) - len(set(ids))} duplicates")
    if not uncertain and (not totals or totals[0] != len(want)):
        wrong.append(f"total {totals[0] if totals else '?'}, acknowledged {len(want)}")
    if not uncertain and set(ids) != want:
        wrong.append(f"{len(want - set(ids))} missing, {len(set(ids) - want)} unexpected")
    if wrong:
        v.totals_wrong.append(f"{name}: {'; '.join(wrong)}")


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
        for status_filter, want in expected.items():
            query = f"status={status_filter}" if status_filter else ""
            label = "verify: list workflows"
            name = f"{t.name} workflows{' status=' + status_filter if status_filter else ''}"
            listed = walk_all(c, label, "/workflows", "workflows", query)
            check_list(t, world, v, name, listed, want, bool(uncertain), strict=True)
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
            listed = walk_all(c, "verify: list executions", "/executions", "executions", query)
            check_list(t, world, v, name, listed, want, uncertain, strict=False)
    finally:
        c.close()
