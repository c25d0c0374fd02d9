"""The mixed workload: one ``Worker`` per client thread, each operation checking its answer
against what was acknowledged before it."""

from __future__ import annotations

import random
import secrets
import threading
from typing import Any
from urllib.parse import quote

from bench.load.client import Client, Resp
from bench.load.model import (
    EX_STATUSES,
    TASK_SECONDS,
    WF_STATUSES,
    Budget,
    Exhausted,
    IdemKey,
    Stats,
    Tenant,
    Wf,
    World,
    etl_tasks,
    snapshot,
)


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

    def _answered(self, r: Resp | None, status: int, unknown: Any, counter: str) -> Resp | None:
        """``r`` when the write was answered ``status``, else None. After a connection error the
        write's outcome is unknown: counted in ``unknown.<counter>``, which its checks allow for."""
        if r is None:
            with self.world.lock:
                setattr(unknown, counter, getattr(unknown, counter) + 1)
            return None
        return r if r.status == status else None

    def _target(self, hot_share: float) -> tuple[Wf, int] | None:
        """A workflow to act on and its highest acknowledged revision (``World.pick``); when the
        tenant has none, a create instead, and None."""
        picked = self.world.pick(self.t, self.rng, hot_share)
        if picked is None:
            self.op_create()
        return picked

    # -- workflows ---------------------------------------------------------------------------------
    def op_create(self, label: str = "create") -> None:
        body = {
            "name": self._name("wf"),
            "description": f"load client {self.idx}",
            "status": self.rng.choice(WF_STATUSES),
            "tasks": etl_tasks(),
        }
        r = self._answered(
            self.c.call(label, "POST", "/workflows", body, ok=(201,)), 201, self.t, "uncertain_creates"
        )
        if r is None:
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
        if (picked := self._target(hot_share=0.5)) is None:
            return
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
        r = self._answered(r, 200, wf, "uncertain")
        if r is None:
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
        if (picked := self._target(hot_share=0.2)) is None:
            return
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
        if (picked := self._target(hot_share=0.2)) is None:
            return
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
        r = self._answered(r, 202, self.t, "uncertain_executes")
        if r is None:
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
