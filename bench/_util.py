"""Shared by the benchmarks: the embedded runtime as a subprocess, percentiles, tables, the
environment, results files."""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (nan when there are none)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows) if rows else False for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def environment() -> dict[str, Any]:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    status = git("status", "--porcelain")
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "worktree_dirty": bool(status) if status is not None else None,
        "packages": {
            name: version(name)
            for name in ("boto3", "botocore", "moto", "aws-lambda-powertools", "pydantic", "httpx")
        },
    }


def _finite(value: Any) -> Any:
    """JSON has no NaN: unmeasured values become null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(_finite(data), indent=2, default=str, allow_nan=False) + "\n")
    return path


class DevServer:
    """``orchestration dev`` as a subprocess, output to files, stopped with SIGINT (Ctrl-C)."""

    URL_LINE = re.compile(r"^Orchestration API \(embedded runtime\) at (http://\S+)\s*$", re.MULTILINE)

    def __init__(self, workdir: Path, api_key: str, *extra_args: str) -> None:
        self.workdir = workdir
        self.extra_args = extra_args
        self.data_dir = workdir / "data"
        self.api_key = api_key
        self.stdout_path = workdir / "server-stdout.log"
        self.stderr_path = workdir / "server-stderr.log"
        self.exe = Path(sys.executable).with_name("orchestration")
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.ready_seconds = float("nan")
        self.stop_seconds = float("nan")
        self.exit_code: int | None = None

    def start(self, timeout: float = 120.0) -> None:
        cmd = [
            str(self.exe),
            "dev",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            "--quiet",
            "--api-key",
            self.api_key,
            *self.extra_args,
        ]
        started = time.perf_counter()
        # Files, not pipes: the functions log to stdout and a full pipe would stall the server.
        # A new session: a Ctrl-C on the benchmark does not race the SIGINT sent at the end.
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=REPO, start_new_session=True
            )
        while True:
            m = self.URL_LINE.search(self.stdout_path.read_text(errors="replace"))
            if m:
                self.url = m.group(1)
                self.ready_seconds = time.perf_counter() - started
                return
            if self.proc.poll() is not None or time.perf_counter() - started > timeout:
                self.kill()
                raise RuntimeError(f"orchestration dev did not start:\n{self.log_tail()}")
            time.sleep(0.05)

    @property
    def root_url(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def create_key(self, tenant: str, name: str = "bench") -> str:
        cmd = [str(self.exe), "keys", "create", "--tenant", tenant, "--name", name]
        cmd += ["--url", self.root_url, "--data-dir", str(self.data_dir)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=REPO)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()}")
        out = json.loads(done.stdout)
        if out.get("tenantId") != tenant or not str(out.get("apiKey", "")).startswith("orch_"):
            raise RuntimeError(f"unexpected output of keys create: {done.stdout[:300]}")
        return str(out["apiKey"])

    def cpu_seconds(self) -> float:
        try:
            assert self.proc is not None
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, AssertionError):
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout: float = 120.0) -> dict[str, Any]:
        """SIGINT; the exit code, how long it took, and whether it said it saved its data."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return {"exit_code": self.proc.returncode, "seconds": 0.0, "killed": False, "saved": False}
        started = time.perf_counter()
        self.proc.send_signal(signal.SIGINT)
        killed = False
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            killed = True
        saved = "Stopped; data saved." in self.stdout_path.read_text(errors="replace")
        self.stop_seconds = round(time.perf_counter() - started, 2)
        self.exit_code = self.proc.returncode
        return {
            "exit_code": self.proc.returncode,
            "seconds": round(time.perf_counter() - started, 2),
            "killed": killed,
            "saved": saved,
        }

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, chars: int = 3000) -> str:
        out = self.stdout_path.read_text(errors="replace")[-chars:] if self.stdout_path.exists() else ""
        err = self.stderr_path.read_text(errors="replace")[-chars:] if self.stderr_path.exists() else ""
        return f"--- server stdout (tail) ---\n{out}\n--- server stderr (tail) ---\n{err}"

    def tracebacks(self) -> int:
        text = ""
        for path in (self.stdout_path, self.stderr_path):
            if path.exists():
                text += path.read_text(errors="replace")
        return text.count("Traceback (most recent call last)")
