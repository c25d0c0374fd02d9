"""The `orchestration` command on user errors: one line saying what to do, an exit code, never a
traceback (1 a failure, 2 usage, 130 interrupted), run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import CLI, CLI_TIMEOUT, DevServer, start_dev_server

TASKS = Path(__file__).resolve().parent / "holding_tasks.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    workdir = tmp_path_factory.mktemp("cli-server")
    started = start_dev_server(workdir, workdir / "data", "--tasks", str(TASKS))
    try:
        yield started
    finally:
        started.assert_clean_stop()


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str


def cli(server: DevServer | None, *args: str, env: dict[str, str] | None = None) -> Done:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATION_")}
    if server is not None:
        environ |= {"ORCHESTRATION_URL": server.base_url, "ORCHESTRATION_API_KEY": server.api_key}
    environ |= env or {}
    done = subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=CLI_TIMEOUT, env=environ, check=False
    )
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return Done(done.returncode, done.stdout, done.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def workflow(server: DevServer, tasks: list[dict[str, object]]) -> str:
    response = server.client().post("/workflows", json={"name": "cli", "tasks": tasks})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# -- the table: (arguments, exit code, what stderr says) -------------------------------------------------
def test_missing_file(server: DevServer, tmp_path: Path) -> None:
    done = cli(server, "workflows", "create", "-f", str(tmp_path / "nope.json"))
    assert done.code == 2 and "cannot read" in done.err and "nope.json" in done.err


def test_bad_json(server: DevServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "tasks": [')
    done = cli(server, "workflows", "create", "-f", str(bad))
    assert done.code == 2 and "not valid JSON" in done.err


def test_field_errors_are_printed(server: DevServer, tmp_path: Path) -> None:
    body = tmp_path / "wf.json"
    body.write_text(
        json.dumps({"name": "x", "tasks": [{"name": "a", "type": "noop", "dependsOn": ["nope"]}]})
    )
    done = cli(server, "workflows", "create", "-f", str(body))
    assert done.code == 1 and "400" in done.err and "tasks[0].dependsOn[0]" in done.err


def test_bogus_status_prints_the_errors(server: DevServer) -> None:
    done = cli(server, "executions", "list", "--status", "bogus")
    assert done.code == 1 and "status" in done.err and "\n  " in done.err, done.err


def test_server_down() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    done = cli(None, "workflows", "list", env={"ORCHESTRATION_URL": url, "ORCHESTRATION_API_KEY": "orch_x"})
    assert done.code == 1 and "cannot reach the API" in done.err and "--url" in done.err


def test_url_without_the_stage_gets_a_hint(server: DevServer) -> None:
    done = cli(server, "workflows", "list", "--url", server.root_url)
    assert done.code == 1 and "hint:" in done.err and "/v1" in done.err


def test_url_that_is_not_a_url(server: DevServer) -> None:
    done = cli(server, "workflows", "list", "--url", "localhost:3000")
    assert done.code == 2 and "http://" in done.err


def test_no_key_names_where_it_looked(tmp_path: Path) -> None:
    done = cli(None, "workflows", "list", "--data-dir", str(tmp_path))
    assert done.code == 2 and "ORCHESTRATION_API_KEY" in done.err and str(tmp_path) in done.err


def test_data_dir_is_honoured_for_the_key(server: DevServer, tmp_path: Path) -> None:
    env = {"ORCHESTRATION_URL": server.base_url}
    done = subprocess.run(
        [str(CLI), "workflows", "list", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        cwd=tmp_path,  # anywhere: the key is found by --data-dir, not the current directory
        env={**{k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATION_")}, **env},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "workflows" in json.loads(done.stdout)


def test_bad_param(server: DevServer) -> None:
    done = cli(server, "run", "wf_01m8ed00000000000000000000", "--param", "novalue")
    assert done.code == 2 and "key=value" in done.err


def test_unknown_option_is_usage() -> None:
    done = cli(None, "executions", "list", "--bogus")
    assert done.code == 2 and "usage:" in done.err


def test_version() -> None:
    done = cli(None, "--version")
    assert done.code == 0 and done.out.startswith("orchestration ")


def test_keys_take_the_api_url_too(server: DevServer) -> None:
    done = cli(None, "keys", "list", "--url", server.base_url, "--data-dir", str(server.data_dir))
    assert done.code == 0 and "keys" in json.loads(done.out)


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli(None, "dev", "--port", str(port), "--data-dir", str(tmp_path / "data"))
    assert done.code == 2 and "in use" in done.err and "--port" in done.err
    assert len(done.err.strip().splitlines()) == 1
    # Named before the slow start: nothing was loaded, so no data directory was made.
    assert not (tmp_path / "data").exists()


def test_broken_pipe_from_executions_get(server: DevServer) -> None:
    # A result bigger than a pipe's buffer, read by `head -c 100`
    wf = workflow(server, [{"name": "a", "type": "noop"}])
    started = server.client().post(f"/workflows/{wf}/execute", json={"parameters": {"blob": "x" * 150_000}})
    execution_id = started.json()["executionId"]
    for _ in range(200):
        if server.client().get(f"/executions/{execution_id}").json()["status"] == "completed":
            break
        time.sleep(0.05)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATION_")}
    environ |= {"ORCHESTRATION_URL": server.base_url, "ORCHESTRATION_API_KEY": server.api_key}
    done = subprocess.run(
        f"'{CLI}' executions get {execution_id} | head -c 100 >/dev/null; echo ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env=environ,
        check=False,
    )
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stderr.strip() == ""
    assert done.stdout.strip() in {"0", "141"}


def _ctrl_c_as_at_a_terminal() -> None:
    """In the child: Ctrl-C as a command typed at a terminal gets it. A suite started in the
    background (``make test &`` in a script) ignores SIGINT, and a command inherits that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_in_run_watch_says_the_run_goes_on(server: DevServer, tmp_path: Path) -> None:
    folder, key = server.data_dir.parent, uuid.uuid4().hex
    wf = workflow(server, [{"name": "held", "type": "hold"}])
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATION_")}
    environ |= {"ORCHESTRATION_URL": server.base_url, "ORCHESTRATION_API_KEY": server.api_key}
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with out_path.open("w") as out_file, err_path.open("w") as err_file:
        proc = subprocess.Popen(
            [str(CLI), "run", wf, "--param", f"dir={folder}", "--param", f"key={key}", "--watch"],
            stdout=out_file,
            stderr=err_file,
            text=True,
            env=environ,
            preexec_fn=_ctrl_c_as_at_a_terminal,
        )
    try:
        # Interrupt once the command is watching: it printed the held task running.
        deadline = time.monotonic() + 60
        while "held: running" not in out_path.read_text():
            assert proc.poll() is None, err_path.read_text()
            assert time.monotonic() < deadline, "the watch never showed the task running"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=CLI_TIMEOUT)
    finally:
        (folder / f"{key}.release").touch()
        if proc.poll() is None:
            proc.kill()
    out, err = out_path.read_text(), err_path.read_text()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    execution_id = err.split("started ", 1)[1].split()[0]
    assert f"The execution {execution_id} goes on" in err
    assert f"orchestration executions watch {execution_id}" in err
    # ... and it did go on
    deadline = time.monotonic() + 60
    while server.client().get(f"/executions/{execution_id}").json()["status"] != "completed":
        assert time.monotonic() < deadline, "the run did not go on to complete"
        time.sleep(0.05)


def test_task_types_list(server: DevServer) -> None:
    done = cli(server, "task-types", "list")
    assert done.code == 0, done.err
    assert "noop" in done.out and "builtin" in done.out and "hold" in done.out
