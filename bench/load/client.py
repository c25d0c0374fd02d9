"""The load clients' connection: no retries, every answer (or connection error) recorded."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.harness import Connection
from bench.load.model import Budget, Stats


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


class Client(Connection):
    """One keep-alive HTTP/1.1 connection. No retries: a failed request is a result, not noise."""

    def __init__(self, base_url: str, api_key: str, stats: Stats, budget: Budget | None = None) -> None:
        super().__init__(base_url, api_key)
        self.stats = stats
        self.budget = budget

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
        data, hdrs = self.prepare(body, headers)
        s = self.stats.op(label)
        t0 = time.perf_counter()
        try:
            raw = self.send(method, path, data, hdrs)
            resp = Resp(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
        except (http.client.HTTPException, OSError) as err:
            s.ends.append(time.perf_counter())
            s.latencies.append(s.ends[-1] - t0)
            s.statuses["conn-error"] += 1
            s.conn_errors += 1
            s.unexpected += 1
            self._sample(label, method, path, "conn-error", repr(err))
            self.reconnect()
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
