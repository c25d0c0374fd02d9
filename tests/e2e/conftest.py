"""End-to-end fixtures: `orchestration dev` started as a user starts it, driven over real HTTP.

Each pytest process (each xdist worker included) starts its own server on a free port
(`--port 0`) with its own data directory, and stops it with SIGINT at the end, expecting a
clean exit. Tests isolate themselves with a fresh tenant (a key made by `orchestration keys
create`) instead of resetting state.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

CLI = Path(sys.executable).parent / "orchestration"
ETL_TASKS = Path(__file__).resolve().parents[2] / "examples" / "etl_tasks.py"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
CLI_TIMEOUT = 30.0

_URL_LINE = re.compile(r"^Orchestration API \(embedded runtime\) at (http://\S+)\s*$", re.MULTILINE)
_KEY_LINE = re.compile(r"^API key \(tenant 'default'\): (\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ApiKey:
    api_key: str
    key_id: str
    tenant_id: str


@dataclass
class DevServer:
    """A running `orchestration dev` process."""

    proc: subprocess.Popen[bytes]
    base_url: str  # e.g. http://127.0.0.1:41234/v1
    api_key: str  # the key printed for tenant 'default'
    data_dir: Path
    stdout_path: Path
    stderr_path: Path
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def root_url(self) -> str:
        """Scheme and authority only: what `orchestration keys --url` expects."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    # -- HTTP clients ---------------------------------------------------------------------------
    def client(self, api_key: str | None = None, **kwargs: Any) -> httpx.Client:
        """A fresh client on base_url; `api_key=None` means the printed default key, "" means none."""
        key = self.api_key if api_key is None else api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=30.0, **kwargs)
        self._clients.append(client)
        return client

    # -- the `orchestration keys` CLI ----------------------------------------------------------
    def keys_cli(self, *args: str) -> Any:
        cmd = [str(CLI), "keys", *args, "--url", self.root_url, "--data-dir", str(self.data_dir)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)
        if done.returncode != 0:
            pytest.fail(
                f"{' '.join(cmd)} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return json.loads(done.stdout)

    def create_key(self, tenant: str, name: str = "e2e") -> ApiKey:
        out = self.keys_cli("create", "--tenant", tenant, "--name", name)
        assert out["apiKey"].startswith("orch_"), out
        assert out["tenantId"] == tenant, out
        return ApiKey(api_key=out["apiKey"], key_id=out["keyId"], tenant_id=out["tenantId"])

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.keys_cli("revoke", key_id)
        return out

    def list_keys(self, tenant: str | None = None) -> list[dict[str, Any]]:
        out = self.keys_cli("list", *(["--tenant", tenant] if tenant else []))
        keys: list[dict[str, Any]] = out["keys"]
        return keys

    # -- diagnostics and shutdown ---------------------------------------------------------------
    def log_tail(self, chars: int = 6000) -> str:
        """The end of the server's stdout (where the functions' JSON logs and tracebacks go) and stderr."""
        out = self.stdout_path.read_text(errors="replace")[-chars:]
        err = self.stderr_path.read_text(errors="replace")[-chars:]
        return f"--- server stdout (tail) ---\n{out}\n--- server stderr (tail) ---\n{err}"

    def stop(self) -> int:
        """SIGINT, as Ctrl-C would; the exit code (killed, and the test failed, after STOP_TIMEOUT)."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"orchestration dev did not stop within {STOP_TIMEOUT}s of SIGINT\n{self.log_tail()}")

    def assert_clean_stop(self) -> None:
        code = self.stop()
        assert code == 0, f"orchestration dev exited {code} after SIGINT\n{self.log_tail()}"
        assert "Stopped; data saved." in self.stdout_path.read_text(errors="replace")


def start_dev_server(workdir: Path, data_dir: Path, *extra: str) -> DevServer:
    """Start `orchestration dev --port 0 --data-dir DATA --quiet [extra]` and wait for its URL line."""
    workdir.mkdir(parents=True, exist_ok=True)
    stdout_path = workdir / "dev-stdout.log"
    stderr_path = workdir / "dev-stderr.log"
    cmd = [str(CLI), "dev", "--port", "0", "--data-dir", str(data_dir), "--quiet", *extra]
    # Output goes to files, not pipes: the functions keep logging to stdout and a full pipe
    # would stall the server. A new session keeps a Ctrl-C on pytest from racing our SIGINT.
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        text = stdout_path.read_text(errors="replace")
        url, key = _URL_LINE.search(text), _KEY_LINE.search(text)
        if url and key:
            return DevServer(proc, url.group(1), key.group(1), data_dir, stdout_path, stderr_path)
        if proc.poll() is not None:
            pytest.fail(
                f"{' '.join(cmd)} exited {proc.returncode} before serving\n"
                f"stderr:\n{stderr_path.read_text(errors='replace')}\nstdout:\n{text}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(
                f"{' '.join(cmd)} printed no URL within {START_TIMEOUT}s\n"
                f"stderr:\n{stderr_path.read_text(errors='replace')}\nstdout:\n{text}"
            )
        time.sleep(0.05)


def unique_tenant(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """One server per pytest process (per xdist worker): free port, own data directory."""
    workdir = tmp_path_factory.mktemp("dev-server")
    # As the README runs it: with the seed's ETL task types from examples/etl_tasks.py.
    server = start_dev_server(workdir, workdir / "data", "--tasks", str(ETL_TASKS))
    try:
        yield server
    finally:
        server.assert_clean_stop()


@pytest.fixture(scope="session")
def api(dev_server: DevServer) -> httpx.Client:
    """A client with the printed default key (tenant 'default')."""
    return dev_server.client()


@dataclass(frozen=True)
class Tenant:
    id: str
    key: ApiKey
    client: httpx.Client


@pytest.fixture
def new_tenant(dev_server: DevServer) -> Callable[[], Tenant]:
    """Makes a fresh tenant (a key from `orchestration keys create`) with its own client."""

    def make() -> Tenant:
        tenant_id = unique_tenant()
        key = dev_server.create_key(tenant_id)
        return Tenant(tenant_id, key, dev_server.client(key.api_key))

    return make


@pytest.fixture
def tenant(new_tenant: Callable[[], Tenant]) -> Tenant:
    return new_tenant()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., DevServer]]:
    """Starts extra servers (e.g. to restart on one data directory); stops any still running."""
    started: list[DevServer] = []

    def start(data_dir: Path, *extra: str) -> DevServer:
        server = start_dev_server(tmp_path / f"server-{len(started)}", data_dir, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.stop()
