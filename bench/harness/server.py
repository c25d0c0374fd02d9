"""``orchestration dev``, the embedded runtime as a user starts it, run as a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness.report import REPO


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
