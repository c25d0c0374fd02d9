"""The embedded runtime's store on disk: a redo journal with group commit, and snapshots.

What is durable when: every successful mutating DynamoDB call appends ONE record (the
after-images of every item it touched) to the journal, and the call answers only once that
record is fsynced. Concurrent writers share fsyncs (group commit): one of them flushes
everything written so far and wakes the others. A snapshot (every item, taken under the
store's lock, so never half a transaction) records the sequence number it covers; older
journal segments are then deleted. Start-up = the last snapshot + every journal record after
it. Records hold full after-images, so replaying one twice is harmless.

Files, in ``<data-dir>/dynamodb/`` (0700; files 0600):

- ``snapshot-<seq>.snap``: a header line, one line per item, an ``{"end": count}`` line.
- ``journal-<first seq>.log``: one line per record.

Every line is ``<crc32 of the JSON, 8 hex digits> <JSON>\\n``. A damaged LAST line of the
newest journal segment is a torn append (power loss): it is dropped with one log line and
the file truncated. Anything else that does not check out is corruption: start-up stops with
``StoreCorrupt`` and ``orchestration repair`` (``repair()``) keeps what precedes it.

This module knows nothing about moto: the caller hands it ``apply`` (write an item, or
delete it when the item is None, straight into the in-memory store) and ``key_of``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("orchestration.durability")

Key = dict[str, Any]
Item = dict[str, Any]
Op = tuple[str, Key, Item | None]

SNAPSHOT_RE = re.compile(r"^snapshot-(\d{16})\.snap$")
SEGMENT_RE = re.compile(r"^journal-(\d{16})\.log$")
TMP_SUFFIX = ".tmp"
LEGACY_SUFFIX = ".jsonl"
DEFAULT_SNAPSHOT_BYTES = 32 * 1024 * 1024
CHUNK = 1024 * 1024


class StoreCorrupt(Exception):
    """A file of the store does not check out (not a torn last record)."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path} is damaged at line {line} ({reason})")
        self.path = path
        self.line = line
        self.reason = reason


class PersistenceUnavailable(Exception):
    """A write could not be made durable; nothing was acknowledged."""


class FileIO(Protocol):
    """The two system calls a write needs (tests hand in one that fails on demand)."""

    def write(self, fd: int, data: bytes | memoryview, /) -> int: ...

    def fsync(self, fd: int) -> None: ...


# -- framing ----------------------------------------------------------------------------------------
def frame(payload: str) -> bytes:
    data = payload.encode()
    return b"%08x %s\n" % (zlib.crc32(data), data)


def _check(line: bytes) -> Any:
    """The JSON of one framed line (without its newline), or raise ValueError."""
    if len(line) < 10 or line[8:9] != b" ":
        raise ValueError("no checksum")
    data = line[9:]
    if int(line[:8], 16) != zlib.crc32(data):
        raise ValueError("checksum mismatch")
    return json.loads(data)


@dataclass
class Parsed:
    values: list[Any]
    good_bytes: int  # length of the prefix that checked out
    error: str | None = None  # why the rest did not
    error_line: int = 0  # 1-based line number of the first bad line
    torn_tail: bool = False  # the only bad line is the last, so it may be a torn append


def parse(data: bytes) -> Parsed:
    """Framed lines; stops at the first one that does not check out."""
    values: list[Any] = []
    offset = 0
    number = 0
    while offset < len(data):
        number += 1
        end = data.find(b"\n", offset)
        if end < 0:
            return Parsed(values, offset, "incomplete last line", number, torn_tail=True)
        try:
            values.append(_check(data[offset:end]))
        except ValueError as err:
            return Parsed(values, offset, str(err), number, torn_tail=end + 1 == len(data))
        offset = end + 1
    return Parsed(values, offset)


def canonical(key: Key) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def snapshot_name(seq: int) -> str:
    return f"snapshot-{seq:016d}.snap"


def segment_name(first_seq: int) -> str:
    return f"journal-{first_seq:016d}.log"


def _numbered(directory: Path, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
    found = []
    for path in directory.iterdir():
        m = pattern.match(path.name)
        if m:
            found.append((int(m.group(1)), path))
    return sorted(found)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the store --------------------------------------------------------------------------------------
@dataclass
class LoadReport:
    items: int = 0
    snapshot_seq: int = 0
    records: int = 0
    torn_dropped: bool = False
    migrated_files: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Store:
    """Journal + snapshots for an in-memory table store whose writes are serialised by ``lock``."""

    def __init__(
        self,
        directory: Path,
        lock: threading.RLock,
        apply: Callable[[str, Key, Item | None], None],
        key_of: Callable[[str, Item], Key],
        *,
        io: FileIO | None = None,
        snapshot_bytes: int = DEFAULT_SNAPSHOT_BYTES,
        recover_interval: float = 1.0,
    ) -> None:
        self.directory = directory
        self.lock = lock
        self.apply = apply
        self.key_of = key_of
        self.io: FileIO = io or os
        self.snapshot_bytes = snapshot_bytes
        self.recover_interval = recover_interval
        # What is in memory, as the JSON the journal and snapshots hold: {table: {key: item}}.
        self.items: dict[str, dict[str, str]] = {}
        self.fd: int | None = None
        self.segment_start = 0
        self.offset = 0
        self.written_seq = 0  # last record written to the journal (under ``lock``)
        self.synced_seq = 0  # last record known durable (under ``_cond``)
        self.snapshot_seq = 0
        self.journal_bytes = 0  # written since the last snapshot
        self.last_snapshot_bytes = 0
        self.failure: str | None = None
        self.failed_at: float | None = None
        self._last_recovery_try = float("-inf")
        self._cond = threading.Condition(threading.Lock())
        self._flushing = False
        self._snap_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = {"fsyncs": 0, "records": 0, "snapshots": 0, "last_snapshot_pause_ms": 0.0}

    # -- start-up --------------------------------------------------------------------------------
    def open(self) -> LoadReport:
        """Load the last snapshot and replay the journal after it, then open a segment for appends."""
        began = time.perf_counter()
        report = LoadReport()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        for path in self.directory.iterdir():
            if path.name.endswith(TMP_SUFFIX):
                path.unlink()
        snapshots = _numbered(self.directory, SNAPSHOT_RE)
        segments = _numbered(self.directory, SEGMENT_RE)
        legacy = sorted(p for p in self.directory.iterdir() if p.name.endswith(LEGACY_SUFFIX))
        with self.lock:
            if not snapshots and not segments and legacy:
                report.items = self._load_legacy(legacy)
                report.migrated_files = len(legacy)
            if snapshots:
                seq, path = snapshots[-1]
                report.items = self._load_snapshot(path)
                report.snapshot_seq = self.snapshot_seq = seq
                self.last_snapshot_bytes = path.stat().st_size
            last = self.snapshot_seq
            for i, (_start, path) in enumerate(segments):
                following = segments[i + 1][0] if i + 1 < len(segments) else None
                if following is not None and following <= self.snapshot_seq + 1:
                    continue  # wholly covered by the snapshot
                last, count, torn = self._replay(path, last, is_last=following is None)
                report.records += count
                report.torn_dropped |= torn
                self.journal_bytes += path.stat().st_size
            self.written_seq = last
            self.synced_seq = last
            self._open_segment(last + 1)
            if self.journal_bytes > max(self.snapshot_bytes, self.last_snapshot_bytes) or len(segments) > 8:
                self._wake.set()  # compact soon, in the background
        # Migrated data is written in the new format at once; the old files stay beside it, renamed.
        if report.migrated_files and self.snapshot():
            for path in legacy:
                path.rename(path.with_name(path.name + ".migrated"))
        report.seconds = time.perf_counter() - began
        return report

    def _load_snapshot(self, path: Path) -> int:
        parsed = parse(path.read_bytes())
        if parsed.error:
            raise StoreCorrupt(path, parsed.error_line, parsed.error)
        values = parsed.values
        if not values or "snapshot" not in values[0] or "end" not in values[-1]:
            raise StoreCorrupt(path, max(1, len(values)), "incomplete snapshot")
        if values[-1]["end"] != len(values) - 2:
            raise StoreCorrupt(path, len(values), "item count does not match")
        for value in values[1:-1]:
            self._apply_one(value["t"], value["k"], value["i"])
        return len(values) - 2

    def _replay(self, path: Path, last: int, is_last: bool) -> tuple[int, int, bool]:
        data = path.read_bytes()
        parsed = parse(data)
        torn = False
        if parsed.error:
            if not (is_last and parsed.torn_tail):
                raise StoreCorrupt(path, parsed.error_line, parsed.error)
            log.warning(
                "%s: dropped a torn last record (%d bytes, %s); it was never acknowledged",
                path,
                len(data) - parsed.good_bytes,
                parsed.error,
            )
            os.truncate(path, parsed.good_bytes)
            torn = True
        count = 0
        for number, record in enumerate(parsed.values, start=1):
            try:
                seq = int(record["seq"])
                ops = [(op["t"], op["k"], op["i"]) for op in record["ops"]]
            except (KeyError, TypeError, ValueError) as err:
                raise StoreCorrupt(path, number, f"not a journal record: {err}") from None
            if seq <= last:
                continue  # already in the snapshot (or applied): after-images make this harmless
            for table, key, item in ops:
                self._apply_one(table, key, item)
            last = seq
            count += 1
        return last, count, torn

    def _load_legacy(self, files: list[Path]) -> int:
        count = 0
        for path in files:
            table = path.name[: -len(LEGACY_SUFFIX)]
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError:
                    raise StoreCorrupt(path, number, "not JSON") from None
                self._apply_one(table, self.key_of(table, item), item)
                count += 1
        return count

    def _apply_one(self, table: str, key: Key, item: Item | None) -> None:
        self.apply(table, key, item)
        entries = self.items.setdefault(table, {})
        if item is None:
            entries.pop(canonical(key), None)
        else:
            entries[canonical(key)] = _dumps(item)

    def _open_segment(self, first_seq: int) -> None:
        # Only ever opened at written_seq + 1: whatever such a file holds (a record torn by a
        # failed write) was never committed, so it starts empty.
        path = self.directory / segment_name(first_seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        self.fd, self.segment_start, self.offset = fd, first_seq, 0
        _fsync_dir(self.directory)

    # -- the write path (``commit`` under ``lock``; ``wait_durable`` after releasing it) ----------
    def writable(self) -> bool:
        """Called under ``lock`` before a write: False while persistence is failed (after one try
        to recover, at most every ``recover_interval`` seconds)."""
        if self.failure is None:
            return True
        now = time.monotonic()
        if now - self._last_recovery_try < self.recover_interval:
            return False
        self._last_recovery_try = now
        if not self._snap_lock.acquire(blocking=False):
            return False  # a snapshot (which recovers) is being written right now
        try:
            return self._snapshot_locked()
        finally:
            self._snap_lock.release()

    def commit(self, ops: list[Op]) -> int:
        """Append one record (under ``lock``). Raises PersistenceUnavailable if it was not written:
        the caller then restores the before-images."""
        if self.failure is not None or self.fd is None:
            raise PersistenceUnavailable(self.failure or "the journal is closed")
        seq = self.written_seq + 1
        parts = []
        for table, key, item in ops:
            parts.append(
                f'{{"t":{_dumps(table)},"k":{canonical(key)},"i":{"null" if item is None else _dumps(item)}}}'
            )
        line = frame(f'{{"seq":{seq},"ops":[{",".join(parts)}]}}')
        try:
            view = memoryview(line)
            while view:
                written = self.io.write(self.fd, view)
                view = view[written:]
        except OSError as err:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.offset)  # no torn record before the next good one
            self._fail(f"journal write failed: {err}")
            raise PersistenceUnavailable(self.failure) from err
        self.offset += len(line)
        self.journal_bytes += len(line)
        self.written_seq = seq
        self.stats["records"] += 1
        for table, key, item in ops:
            entries = self.items.setdefault(table, {})
            if item is None:
                entries.pop(canonical(key), None)
            else:
                entries[canonical(key)] = _dumps(item)
        if self.journal_bytes > max(self.snapshot_bytes, self.last_snapshot_bytes):
            self._wake.set()
        return seq

    def wait_durable(self, seq: int) -> bool:
        """Block until record ``seq`` is fsynced (group commit). False if persistence failed first."""
        while True:
            with self._cond:
                while True:
                    if self.synced_seq >= seq:
                        return True
                    if self.failure is not None:
                        return False
                    if not self._flushing:
                        break
                    self._cond.wait()
                self._flushing = True
                fd, target = self.fd, self.written_seq
            error: OSError | None = None
            try:
                if fd is None:
                    raise OSError("the journal is closed")
                self.io.fsync(fd)
            except OSError as err:
                error = err
            with self._cond:
                self._flushing = False
                self.stats["fsyncs"] += 1
                if error is None:
                    self.synced_seq = max(self.synced_seq, target)
                else:
                    self._fail(f"journal fsync failed: {error}")
                self._cond.notify_all()

    def _fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
            self.failed_at = time.time()
            log.error("persistence failed, writes are refused (503) until it recovers: %s", reason)
            self._wake.set()

    # -- snapshots ---------------------------------------------------------------------------------
    def snapshot(self) -> bool:
        """A consistent snapshot; compacts the journal and, after a failure, recovers. True if written."""
        with self._snap_lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> bool:
        with self.lock:
            began = time.perf_counter()
            tables = {name: dict(entries) for name, entries in self.items.items()}
            seq = self.written_seq
            self.stats["last_snapshot_pause_ms"] = (time.perf_counter() - began) * 1000
            rotated = self._rotate(seq + 1)
        if not rotated:
            return False
        try:
            size = self._write_snapshot(tables, seq)
        except OSError as err:
            self._fail(f"snapshot failed: {err}")
            return False
        with self._cond:
            self.synced_seq = max(self.synced_seq, seq)
            recovered = self.failure is not None
            self.failure = None
            self.failed_at = None
            self._cond.notify_all()
        if recovered:
            log.warning("persistence recovered: everything stored is on disk again")
        self.snapshot_seq = seq
        self.last_snapshot_bytes = size
        self.stats["snapshots"] += 1
        with self.lock:
            self.journal_bytes = self.offset
        for number, path in _numbered(self.directory, SNAPSHOT_RE):
            if number < seq:
                with contextlib.suppress(OSError):
                    path.unlink()
        for start, path in _numbered(self.directory, SEGMENT_RE):
            if start <= seq:  # every record in it is at most seq: the snapshot covers it
                with contextlib.suppress(OSError):
                    path.unlink()
        return True

    def _rotate(self, first_seq: int) -> bool:
        """Under ``lock``: close the current segment (fsynced) and start a new one at ``first_seq``."""
        with self._cond:
            while self._flushing:
                self._cond.wait()
            old, self.fd = self.fd, None
            if old is not None:
                try:
                    self.io.fsync(old)
                    self.synced_seq = max(self.synced_seq, self.written_seq)
                except OSError as err:
                    self._fail(f"journal fsync failed: {err}")
                with contextlib.suppress(OSError):
                    os.close(old)
            try:
                self._open_segment(first_seq)
            except OSError as err:
                self._fail(f"cannot open a journal segment: {err}")
                return False
            finally:
                self._cond.notify_all()
        return True

    def _write_snapshot(self, tables: dict[str, dict[str, str]], seq: int) -> int:
        path = self.directory / snapshot_name(seq)
        tmp = path.with_name(path.name + TMP_SUFFIX)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        size = 0
        try:
            buffer: list[bytes] = []
            pending = 0

            def flush() -> None:
                nonlocal pending, size
                view = memoryview(b"".join(buffer))
                size += len(view)
                while view:
                    view = view[self.io.write(fd, view) :]
                buffer.clear()
                pending = 0

            for line in self._snapshot_lines(tables, seq):
                buffer.append(line)
                pending += len(line)
                if pending >= CHUNK:
                    flush()
            flush()
            self.io.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(self.directory)
        return size

    @staticmethod
    def _snapshot_lines(tables: dict[str, dict[str, str]], seq: int) -> Iterator[bytes]:
        count = sum(len(entries) for entries in tables.values())
        yield frame(_dumps({"snapshot": 1, "seq": seq, "items": count}))
        for name, entries in sorted(tables.items()):
            table = _dumps(name)
            for key, item in entries.items():
                yield frame(f'{{"t":{table},"k":{key},"i":{item}}}')
        yield frame(_dumps({"end": count}))

    # -- the background thread and shutdown ----------------------------------------------------------
    def start(self) -> None:
        """Snapshot when the journal outgrows its threshold; retry recovery while failed."""

        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(self.recover_interval if self.failure else None)
                if self._stop.is_set():
                    return
                self._wake.clear()
                if self.failure is not None or self.journal_bytes > max(
                    self.snapshot_bytes, self.last_snapshot_bytes
                ):
                    try:
                        self.snapshot()
                    except Exception as err:  # noqa: BLE001 - recorded as the failure, retried
                        self._fail(f"snapshot failed: {err}")

        self._thread = threading.Thread(target=loop, name="store-snapshots", daemon=True)
        self._thread.start()

    def close(self) -> bool:
        """Stop the thread, write a final snapshot (compacting the journal), close. True if saved."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        saved = self.snapshot()
        with self.lock, self._cond:
            if self.fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self.fd)
                self.fd = None
        return saved

    def status(self) -> dict[str, Any]:
        return {
            "mode": "journal",
            "ok": self.failure is None,
            "error": self.failure,
            "failedAt": self.failed_at,
            "directory": str(self.directory),
            "writtenSeq": self.written_seq,
            "syncedSeq": self.synced_seq,
            "snapshotSeq": self.snapshot_seq,
            "journalBytes": self.journal_bytes,
        }


# -- repair -------------------------------------------------------------------------------------------
def repair(directory: Path, now: float | None = None) -> list[str]:
    """Keep every record before the first damaged one; move damaged and later files aside.

    Returns lines saying what was kept and dropped."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now if now is not None else time.time()))
    report: list[str] = []
    if not directory.is_dir():
        return [f"{directory}: no store here, nothing to repair"]
    snapshots = _numbered(directory, SNAPSHOT_RE)
    chain: list[tuple[str, Path]] = []
    if snapshots:
        chain.append(("snapshot", snapshots[-1][1]))
        snap_seq = snapshots[-1][0]
    else:
        snap_seq = 0
    segments = _numbered(directory, SEGMENT_RE)
    for i, (_, path) in enumerate(segments):
        following = segments[i + 1][0] if i + 1 < len(segments) else None
        if following is not None and following <= snap_seq + 1:
            continue
        chain.append(("journal", path))
    damaged = False
    for kind, path in chain:
        if damaged:
            aside = path.with_name(f"{path.name}.corrupt-{stamp}")
            path.rename(aside)
            report.append(f"{path.name}: dropped (follows the damaged record); moved to {aside.name}")
            continue
        data = path.read_bytes()
        parsed = parse(data)
        values = parsed.values
        if (
            kind == "snapshot"
            and not parsed.error
            and (not values or "snapshot" not in values[0] or "end" not in values[-1])
        ):
            parsed.error, parsed.error_line = "incomplete snapshot", len(values) + 1
        if not parsed.error:
            report.append(f"{path.name}: intact ({len(values)} lines)")
            continue
        damaged = True
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        path.rename(aside)
        if kind == "snapshot":
            header = values[0] if values and "snapshot" in values[0] else {"snapshot": 1, "seq": snap_seq}
            items = [v for v in values[1:] if isinstance(v, dict) and "t" in v and "end" not in v]
            lines = [frame(_dumps({**header, "items": len(items)}))]
            lines += [frame(_dumps(v)) for v in items]
            lines.append(frame(_dumps({"end": len(items)})))
            kept = f"{len(items)} items"
        else:
            lines = [data[: parsed.good_bytes]]
            kept = f"{len(values)} records"
        tmp = path.with_name(path.name + TMP_SUFFIX)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        dropped = data[parsed.good_bytes :].count(b"\n") + (0 if data.endswith(b"\n") else 1)
        report.append(
            f"{path.name}: kept {kept} before line {parsed.error_line} ({parsed.error}); "
            f"dropped {dropped} line(s); the damaged file is {aside.name}"
        )
    with contextlib.suppress(OSError):
        _fsync_dir(directory)
    if not chain:
        report.append("no snapshot or journal files: nothing to repair")
    return report


# -- offline access (benchmarks seed a stopped runtime's store with these) -------------------------
def read_snapshot(directory: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The newest snapshot of a stopped runtime and its entries ``{"t": table, "k": key, "i": item}``."""
    snapshots = _numbered(directory, SNAPSHOT_RE)
    if not snapshots:
        raise FileNotFoundError(f"no snapshot in {directory}")
    path = snapshots[-1][1]
    parsed = parse(path.read_bytes())
    if parsed.error:
        raise StoreCorrupt(path, parsed.error_line, parsed.error)
    return path, parsed.values[1:-1]


def rewrite_snapshot(path: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the snapshot at ``path`` (same sequence number) with ``entries``."""
    header = parse(path.read_bytes()).values[0]
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with tmp.open("wb") as out:
        out.write(frame(_dumps({**header, "items": len(entries)})))
        for entry in entries:
            out.write(frame(_dumps(entry)))
        out.write(frame(_dumps({"end": len(entries)})))
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
