"""kill -9 of `orchestration dev` in the middle of acknowledged writes loses none of them
(SPEC "Durability (all runtimes)").

Each trial starts the server on the same data directory, runs a burst of mixed writes from a
few threads (create, update and delete workflows, create schedules), records exactly which got
a 2xx, and SIGKILLs the process once a chosen number of writes were acknowledged — the kill
is triggered by the acknowledgement itself, in the thread that received it, never by a timer.
The next start must show every acknowledged write, and list totals equal to what paging
finds. Writes in flight at the kill may or may not have happened; nothing is asserted on them.
"""

from __future__ import annotations

import random
import stat
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.e2e.conftest import DevServer

TRIALS = 6  # the last one kills right after the final acknowledgement
THREADS = 4
OBJECTS_PER_THREAD = 4  # each: create, update, schedule, and every other one deleted
CRON = "0 3 * * *"


@dataclass
class Expected:
    """What the acknowledged writes say must be there (ids whose fate is unknown are left out)."""

    workflows: dict[str, str] = field(default_factory=dict)  # id -> acknowledged description
    deleted: set[str] = field(default_factory=set)
    schedules: dict[str, str] = field(default_factory=dict)  # id -> workflow id
    unknown: set[str] = field(default_factory=set)  # a write to it was in flight at the kill
    lock: threading.Lock = field(default_factory=threading.Lock)


class Burst:
    """Mixed writes from a few threads; SIGKILL once ``kill_after`` of them were acknowledged."""

    def __init__(self, server: DevServer, expected: Expected, kill_after: int, seed: int) -> None:
        self.server = server
        self.expected = expected
        self.kill_after = kill_after
        self.acks = 0
        self.killed = threading.Event()
        self.rng = random.Random(seed)
        self.errors: list[str] = []

    def _ack(self, apply: Callable[[], object]) -> None:
        with self.expected.lock:
            apply()  # a 2xx that arrives after the kill was still acknowledged: it must be kept
            self.acks += 1
            if self.acks == self.kill_after and not self.killed.is_set():
                self.server.proc.kill()  # right after this 2xx, before any other
                self.killed.set()

    def _call(self, client: httpx.Client, method: str, path: str, body: Any, object_id: str) -> Any:
        """The response body of a 2xx, else None (an in-flight write at the kill is 'unknown')."""
        try:
            response = client.request(method, path, json=body)
        except httpx.TransportError:
            with self.expected.lock:
                self.expected.unknown.add(object_id)
            return None
        if response.status_code >= 300:
            if not self.killed.is_set():
                self.errors.append(f"{method} {path} -> {response.status_code} {response.text[:300]}")
            with self.expected.lock:
                self.expected.unknown.add(object_id)
            return None
        return response.json() if response.content else {}

    def worker(self, index: int) -> None:
        client = self.server.client()
        for n in range(OBJECTS_PER_THREAD):
            if self.killed.is_set():
                return
            tag = f"t{index}-{n}-{self.rng.randrange(10**9)}"
            wf = {"name": f"crash {tag}", "tasks": [{"name": "a", "type": "noop"}]}
            created = self._call(client, "POST", "/workflows", wf, tag)
            if created is None:
                return
            wid = created["id"]
            self._ack(partial(self.expected.workflows.__setitem__, wid, ""))
            described = f"v2 {tag}"
            if self._call(client, "PUT", f"/workflows/{wid}", {"description": described}, wid) is None:
                return
            self._ack(partial(self.expected.workflows.__setitem__, wid, described))
            body = {"workflowId": wid, "cronExpression": CRON}
            schedule = self._call(client, "POST", "/schedules", body, f"schedule of {wid}")
            if schedule is None:
                return
            self._ack(partial(self.expected.schedules.__setitem__, schedule["id"], wid))
            if n % 2 == 1:
                if self._call(client, "DELETE", f"/workflows/{wid}", None, wid) is None:
                    return
                self._ack(partial(self.expected.deleted.add, wid))

    def run(self) -> None:
        threads = [threading.Thread(target=self.worker, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
            assert not t.is_alive(), "a writer thread hung"


def planned_writes() -> int:
    per_object = [4 if n % 2 == 1 else 3 for n in range(OBJECTS_PER_THREAD)]
    return THREADS * sum(per_object)


def page_through(client: httpx.Client, path: str) -> tuple[int, list[str]]:
    """(total of the first page, every id found by following nextToken)."""
    first = client.get(path, params={"limit": 7})
    assert first.status_code == 200, first.text
    body = first.json()
    key = path.strip("/")  # the list's items are under its own name: {"workflows": [...], ...}
    total, ids = body["total"], [i["id"] for i in body[key]]
    while body.get("nextToken"):
        page = client.get(path, params={"limit": 7, "nextToken": body["nextToken"]})
        assert page.status_code == 200, page.text
        body = page.json()
        ids.extend(i["id"] for i in body[key])
    return total, ids


def verify(server: DevServer, expected: Expected) -> None:
    client = server.client()
    lost: list[str] = []
    for wid, description in expected.workflows.items():
        if wid in expected.unknown:
            continue
        response = client.get(f"/workflows/{wid}")
        if wid in expected.deleted:
            if response.status_code != 404:
                lost.append(f"deleted workflow {wid} is back: {response.status_code}")
        elif response.status_code != 200:
            lost.append(f"workflow {wid}: {response.status_code}")
        elif response.json()["description"] != description:
            lost.append(f"workflow {wid}: description {response.json()['description']!r} != {description!r}")
    for sid, wid in expected.schedules.items():
        if wid in expected.unknown:
            continue
        response = client.get(f"/schedules/{sid}")
        want = 404 if wid in expected.deleted else 200
        if response.status_code != want:
            lost.append(f"schedule {sid} of {wid}: {response.status_code}, expected {want}")
    assert not lost, "acknowledged writes lost:\n" + "\n".join(lost) + "\n" + server.log_tail()
    for path in ("/workflows", "/schedules"):
        total, ids = page_through(client, path)
        assert total == len(ids) == len(set(ids)), f"{path}: total {total}, paged {len(ids)}"


def test_kill_9_mid_burst_loses_no_acknowledged_write(
    start_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    expected = Expected()
    rng = random.Random(20261129)
    planned = planned_writes()
    server = start_server(data_dir)
    for trial in range(TRIALS):
        kill_after = planned if trial == TRIALS - 1 else rng.randrange(3, planned - 3)
        burst = Burst(server, expected, kill_after, seed=trial)
        burst.run()
        assert not burst.errors, burst.errors
        assert burst.killed.is_set(), f"trial {trial}: only {burst.acks} of {kill_after} writes acknowledged"
        server.proc.wait()
        server = start_server(data_dir)
        verify(server, expected)
    server.assert_clean_stop()
    server = start_server(data_dir)  # and after a clean stop (the final snapshot) too
    verify(server, expected)
    assert len(expected.workflows) - len(expected.unknown) > TRIALS * 3  # the trials did write


def test_the_data_directory_is_private(start_server: Callable[..., DevServer], tmp_path: Path) -> None:
    data_dir = tmp_path / "private"
    server = start_server(data_dir)
    health = httpx.get(f"{server.root_url}/health", timeout=30)
    assert health.status_code == 200 and health.json()["persistence"]["ok"] is True, health.text
    assert (
        server.client()
        .post("/workflows", json={"name": "p", "tasks": [{"name": "a", "type": "noop"}]})
        .status_code
        == 201
    )
    server.assert_clean_stop()
    store = data_dir / "dynamodb"
    for directory in (data_dir, store):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    files = list(store.iterdir())
    assert any(p.name.startswith("snapshot-") for p in files), files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_damaged_journal_stops_the_start_with_one_line_and_repair_makes_it_start(
    start_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    from tests.e2e.conftest import CLI

    data_dir = tmp_path / "damaged"
    server = start_server(data_dir)
    body = {"name": "kept", "tasks": [{"name": "a", "type": "noop"}]}
    kept = server.client().post("/workflows", json=body).json()["id"]
    server.assert_clean_stop()  # "kept" is in the snapshot now
    server = start_server(data_dir)
    for name in ("after-1", "after-2"):
        assert server.client().post("/workflows", json={**body, "name": name}).status_code == 201
    server.proc.kill()
    server.proc.wait()
    journal = max((data_dir / "dynamodb").glob("journal-*.log"), key=lambda p: p.stat().st_size)
    lines = journal.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2, lines  # one record per acknowledged create
    lines[0] = lines[0][:40] + b"X" + lines[0][41:]  # bit rot in the first record, good ones follow
    journal.write_bytes(b"".join(lines))

    cmd = [str(CLI), "dev", "--port", "0", "--data-dir", str(data_dir), "--quiet"]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 2, refused
    assert "Traceback" not in refused.stderr + refused.stdout, refused.stderr
    message = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(message) == 1 and journal.name in message[0], refused.stderr
    assert f"orchestration repair --data-dir {data_dir}" in message[0]

    repair = [str(CLI), "repair", "--data-dir", str(data_dir)]
    repaired = subprocess.run(repair, capture_output=True, text=True, timeout=60, check=False)
    assert repaired.returncode == 0, repaired
    assert "kept 0 records before line 1" in repaired.stdout and "corrupt-" in repaired.stdout, (
        repaired.stdout
    )
    server = start_server(data_dir)
    assert server.client().get(f"/workflows/{kept}").status_code == 200
    server.assert_clean_stop()
