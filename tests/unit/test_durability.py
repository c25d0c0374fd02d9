"""The store's journal and snapshots (orchestration_local/durability.py), on a plain dict backend.

Failures are injected through the ``io`` object the store writes and fsyncs with; nothing here
fills a disk or waits on the clock (threads synchronise on records and events, and every wait
fails at its deadline).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestration_local import durability
from orchestration_local.durability import PersistenceUnavailable, Store, StoreCorrupt, canonical

DEADLINE = 30.0
TABLE = "orchestration-Table"


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.001)


def key(pk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": "x"}}


def item(pk: str, n: int) -> dict[str, Any]:
    return {**key(pk), "n": {"N": str(n)}}


class Backend:
    """What moto is to the runtime: items by table and canonical key."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.applied = 0

    def apply(self, table: str, k: dict[str, Any], value: dict[str, Any] | None) -> None:
        self.applied += 1
        entries = self.tables.setdefault(table, {})
        if value is None:
            entries.pop(canonical(k), None)
        else:
            entries[canonical(k)] = value

    @staticmethod
    def key_of(_table: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"PK": value["PK"], "SK": value["SK"]}

    def get(self, pk: str) -> dict[str, Any] | None:
        return self.tables.get(TABLE, {}).get(canonical(key(pk)))


class FlakyIO:
    """os.write / os.fsync that fail (or block) on demand."""

    def __init__(self) -> None:
        self.write_error: int | None = None
        self.fsync_error: int | None = None
        self.short_write = False  # write half, then fail
        self.fsyncs = 0
        self.gate: threading.Event | None = None  # the first fsync waits for it

    def write(self, fd: int, data: bytes | memoryview, /) -> int:
        if self.short_write:
            os.write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        if self.write_error is not None:
            raise OSError(self.write_error, os.strerror(self.write_error))
        return os.write(fd, data)

    def fsync(self, fd: int, /) -> None:
        gate, self.gate = self.gate, None
        if gate is not None and not gate.wait(DEADLINE):
            raise AssertionError("the fsync gate was never opened")
        self.fsyncs += 1
        if self.fsync_error is not None:
            raise OSError(self.fsync_error, os.strerror(self.fsync_error))
        os.fsync(fd)


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Callable[..., tuple[Store, Backend]]]:
    stores: list[Store] = []

    def open_store(io: Any = None, directory: Path | None = None) -> tuple[Store, Backend]:
        backend = Backend()
        store = Store(
            directory or tmp_path / "dynamodb",
            threading.RLock(),
            backend.apply,
            backend.key_of,
            io=io,
            recover_interval=0.0,
        )
        store.open()
        stores.append(store)
        return store, backend

    yield open_store
    for store in stores:  # as a crash: descriptors closed, nothing saved
        if store.fd is not None:
            os.close(store.fd)
            store.fd = None


def write(store: Store, backend: Backend, pk: str, n: int | None) -> bool:
    """One acknowledged-or-not write, as the runtime does it: apply, commit under the lock, wait."""
    with store.lock:
        if not store.writable():
            return False
        before = backend.get(pk)
        value = None if n is None else item(pk, n)
        backend.apply(TABLE, key(pk), value)
        try:
            seq = store.commit([(TABLE, key(pk), value)])
        except PersistenceUnavailable:
            backend.apply(TABLE, key(pk), before)
            return False
    return store.wait_durable(seq)


def crash_and_reopen(opened: Callable[..., tuple[Store, Backend]], store: Store) -> tuple[Store, Backend]:
    if store.fd is not None:
        os.close(store.fd)
        store.fd = None
    return opened(directory=store.directory)


def segment(store: Store) -> Path:
    return store.directory / durability.segment_name(store.segment_start)


# -- framing ------------------------------------------------------------------------------------------
def test_a_framed_line_round_trips_and_a_changed_byte_is_caught() -> None:
    line = durability.frame('{"seq":1,"ops":[]}')
    assert durability.parse(line).values == [{"seq": 1, "ops": []}]
    damaged = line.replace(b'"seq":1', b'"seq":2')
    parsed = durability.parse(damaged)
    assert parsed.values == [] and parsed.error == "checksum mismatch" and parsed.torn_tail


def test_parse_stops_at_the_first_bad_line_and_tells_a_torn_tail_from_a_corrupt_middle() -> None:
    good = [durability.frame(f'{{"seq":{i},"ops":[]}}') for i in (1, 2, 3)]
    torn = durability.parse(good[0] + good[1] + good[2][:7])
    assert len(torn.values) == 2 and torn.torn_tail and torn.good_bytes == len(good[0] + good[1])
    middle = durability.parse(good[0] + b"deadbeef {}\n" + good[2])
    assert len(middle.values) == 1 and not middle.torn_tail and middle.error_line == 2


# -- the journal -----------------------------------------------------------------------------------------
def test_every_acknowledged_write_is_there_after_a_crash(opened: Any) -> None:
    store, backend = opened()
    for i in range(20):
        assert write(store, backend, f"w{i}", i)
    assert write(store, backend, "w3", None)
    assert write(store, backend, "w4", 44)
    again, loaded = crash_and_reopen(opened, store)
    assert loaded.tables == backend.tables
    assert again.written_seq == 22


def test_a_torn_last_record_is_dropped_with_one_log_line_and_the_file_truncated(
    opened: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store, backend = opened()
    for i in range(3):
        assert write(store, backend, f"w{i}", i)
    path = segment(store)
    intact = path.stat().st_size
    with path.open("ab") as out:
        out.write(durability.frame('{"seq":4,"ops":[]}')[:-5])  # power lost mid-append
    with caplog.at_level(logging.WARNING, logger="orchestration.durability"):
        _, loaded = crash_and_reopen(opened, store)
    assert loaded.tables == backend.tables
    assert path.stat().st_size == intact
    torn_lines = [r for r in caplog.records if "torn" in r.getMessage()]
    assert len(torn_lines) == 1


def test_a_corrupt_record_followed_by_good_ones_stops_the_start_and_repair_keeps_what_precedes_it(
    opened: Any,
) -> None:
    store, backend = opened()
    for i in range(4):
        assert write(store, backend, f"w{i}", i)
    path = segment(store)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"N":"2"', b'"N":"7"')  # bit rot in record 3 of 4
    path.write_bytes(b"".join(lines))
    if store.fd is not None:
        os.close(store.fd)
        store.fd = None
    with pytest.raises(StoreCorrupt) as caught:
        opened(directory=store.directory)
    assert caught.value.path == path and caught.value.line == 3

    report = durability.repair(store.directory, now=0)
    assert any("kept 2 records before line 3" in line for line in report), report
    assert (store.directory / f"{path.name}.corrupt-19700101T000000").exists()
    _, loaded = opened(directory=store.directory)
    assert sorted(loaded.tables[TABLE]) == sorted(canonical(key(f"w{i}")) for i in range(2))


def test_a_damaged_snapshot_stops_the_start_naming_the_file(opened: Any) -> None:
    store, backend = opened()
    assert write(store, backend, "w1", 1)
    assert store.snapshot()
    snap = store.directory / durability.snapshot_name(store.snapshot_seq)
    snap.write_bytes(snap.read_bytes().replace(b'"N":"1"', b'"N":"9"'))
    with pytest.raises(StoreCorrupt) as caught:
        crash_and_reopen(opened, store)
    assert caught.value.path == snap
    report = durability.repair(store.directory, now=0)
    assert any(snap.name in line and "kept 0 items" in line for line in report), report
    opened(directory=store.directory)  # starts again


def test_replaying_records_a_snapshot_already_holds_is_harmless(opened: Any) -> None:
    store, backend = opened()
    for i in range(5):
        assert write(store, backend, f"w{i}", i)
    assert write(store, backend, "w1", None)
    old_segment = segment(store)
    kept = old_segment.read_bytes()
    assert store.snapshot()
    assert not old_segment.exists()  # compacted
    assert write(store, backend, "w9", 9)
    # As if the process died between writing the snapshot and deleting the covered segment.
    old_segment.write_bytes(kept)
    _, loaded = crash_and_reopen(opened, store)
    assert loaded.tables == backend.tables
    # Applying every record once more over the same state changes nothing either.
    for record in durability.parse(kept).values:
        for op in record["ops"]:
            loaded.apply(op["t"], op["k"], op["i"])
    for i in (0, 2, 3, 4):
        loaded.apply(TABLE, key(f"w{i}"), item(f"w{i}", i))
    loaded.apply(TABLE, key("w1"), None)
    assert loaded.tables == backend.tables


def test_concurrent_writers_share_fsyncs_and_none_returns_before_its_record_is_synced(opened: Any) -> None:
    io = FlakyIO()
    store, backend = opened(io=io)
    gate = threading.Event()
    io.gate = gate
    writers = 8
    results: dict[int, bool] = {}

    def writer(i: int) -> None:
        results[i] = write(store, backend, f"w{i}", i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    wait_until(lambda: store.written_seq == writers, "every writer's record to be written")
    assert results == {}  # all of them wait for the first fsync
    assert store.synced_seq == 0
    gate.set()
    for t in threads:
        t.join(DEADLINE)
    assert results == dict.fromkeys(range(writers), True)
    assert store.synced_seq == writers
    assert io.fsyncs <= 2  # the gated fsync, then one for everyone who queued behind it


# -- failures ------------------------------------------------------------------------------------------
def test_a_write_that_cannot_be_appended_is_refused_logged_once_and_recovered_from(
    opened: Any, caplog: pytest.LogCaptureFixture
) -> None:
    io = FlakyIO()
    store, backend = opened(io=io)
    assert write(store, backend, "w1", 1)
    io.write_error = errno.ENOSPC
    with caplog.at_level(logging.ERROR, logger="orchestration.durability"):
        assert not write(store, backend, "w1", 2)
        assert not write(store, backend, "w2", 2)
    assert backend.get("w1") == item("w1", 1) and backend.get("w2") is None  # before-images back
    assert store.items[TABLE][canonical(key("w1"))] == durability._dumps(item("w1", 1))
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("persistence failed"), errors
    assert store.status()["ok"] is False and "No space left" in store.status()["error"]

    io.write_error = None  # the disk has room again
    assert write(store, backend, "w2", 2)
    assert store.status()["ok"] is True
    _, loaded = crash_and_reopen(opened, store)
    assert loaded.tables == backend.tables


def test_a_short_write_leaves_no_torn_record_in_front_of_later_ones(opened: Any) -> None:
    io = FlakyIO()
    store, backend = opened(io=io)
    assert write(store, backend, "w1", 1)
    io.short_write = True
    assert not write(store, backend, "w2", 2)
    io.short_write = False
    assert write(store, backend, "w3", 3)
    _, loaded = crash_and_reopen(opened, store)
    assert loaded.tables == backend.tables
    assert loaded.get("w2") is None


def test_a_failed_fsync_answers_failure_and_recovery_makes_memory_durable(opened: Any) -> None:
    io = FlakyIO()
    store, backend = opened(io=io)
    io.fsync_error = errno.EIO
    assert not write(store, backend, "w1", 1)  # not acknowledged, though memory has it
    assert store.status()["ok"] is False
    assert not write(store, backend, "w2", 2)  # the recovery snapshot fails too: refused up front
    assert backend.get("w2") is None
    io.fsync_error = None
    assert write(store, backend, "w2", 2)  # recovered first: a snapshot of everything in memory
    assert store.status()["ok"] is True
    _, loaded = crash_and_reopen(opened, store)
    assert loaded.tables == backend.tables
    assert loaded.get("w1") == item("w1", 1)


def test_the_background_thread_recovers_without_a_write(opened: Any) -> None:
    io = FlakyIO()
    store, backend = opened(io=io)
    store.start()
    try:
        io.fsync_error = errno.EIO
        assert not write(store, backend, "w1", 1)
        io.fsync_error = None
        wait_until(lambda: store.failure is None, "the background recovery")
    finally:
        assert store.close()


# -- files ---------------------------------------------------------------------------------------------
def test_files_are_private_and_temp_files_are_cleaned_at_start(opened: Any, tmp_path: Path) -> None:
    directory = tmp_path / "dynamodb"
    directory.mkdir(mode=0o755)
    (directory / "snapshot-0000000000000009.snap.tmp").write_text("half a snapshot")
    store, backend = opened(directory=directory)
    assert write(store, backend, "w1", 1)
    assert store.snapshot()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    names = sorted(p.name for p in directory.iterdir())
    assert not any(n.endswith(".tmp") for n in names), names
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_previous_format_loads_once_and_is_then_kept_in_the_new_one(opened: Any, tmp_path: Path) -> None:
    directory = tmp_path / "dynamodb"
    directory.mkdir()
    legacy = directory / f"{TABLE}.jsonl"
    legacy.write_text("".join(durability._dumps(item(f"w{i}", i)) + "\n" for i in range(3)))
    store, backend = opened(directory=directory)
    assert sorted(backend.tables[TABLE]) == sorted(canonical(key(f"w{i}")) for i in range(3))
    assert not legacy.exists() and (directory / f"{TABLE}.jsonl.migrated").exists()
    assert write(store, backend, "w0", None)
    _, loaded = crash_and_reopen(opened, store)
    assert loaded.tables == backend.tables
