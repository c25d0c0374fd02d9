"""API key revocation survives a restart of `orchestration dev`, and `--api-key` never revives a
revoked key or moves another tenant's key under 'default' (SPEC: "Auth and tenancy")."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tests.e2e.conftest import CLI, START_TIMEOUT

if TYPE_CHECKING:
    from tests.e2e.conftest import DevServer


def dev_with_key(data_dir: Path, api_key: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(CLI), "dev", "--port", "0", "--quiet", "--data-dir", str(data_dir), "--api-key", api_key]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT, check=False)


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "Orchestration API" not in done.stdout, done
    for word in words:
        assert word in lines[0], lines[0]


def test_a_revoked_key_stays_revoked_across_a_restart(
    start_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    old_key = first.api_key
    [default] = [k for k in first.list_keys("default")]
    other = first.create_key("other-tenant")
    assert first.client().get("/workflows").status_code == 200
    revoked = first.revoke_key(default["keyId"])
    assert revoked["revokedAt"]
    assert first.client(old_key).get("/workflows").status_code == 401
    first.assert_clean_stop()

    # --api-key with the revoked key, or with another tenant's key: one clear line, exit 2.
    assert_refused(dev_with_key(data, old_key), default["keyId"], "revoked")
    assert_refused(dev_with_key(data, other.api_key), other.key_id, "other-tenant")

    second = start_server(data)
    assert second.api_key != old_key
    assert "was revoked" in second.stdout_path.read_text()
    assert second.client(old_key).get("/workflows").status_code == 401
    assert second.client().get("/workflows").status_code == 200
    # The other tenant's key still works for its own tenant only.
    assert second.client(other.api_key).get("/workflows").status_code == 200
    keys = {k["keyId"]: k for k in second.list_keys()}
    assert keys[default["keyId"]]["revokedAt"] == revoked["revokedAt"]
    assert keys[other.key_id]["tenantId"] == "other-tenant"
    second.assert_clean_stop()

    # A third start keeps the new key (it is not revoked) and says nothing about revocation.
    third = start_server(data)
    assert third.api_key == second.api_key
    assert "was revoked" not in third.stdout_path.read_text()
    assert third.client(old_key).get("/workflows").status_code == 401
    third.assert_clean_stop()


def test_api_key_given_for_a_new_data_dir_is_accepted(
    start_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    key = "orch_" + "k" * 43
    server = start_server(tmp_path / "data", "--api-key", key)
    assert server.api_key == key
    assert server.client().get("/workflows").status_code == 200
    server.assert_clean_stop()
    again = start_server(tmp_path / "data", "--api-key", key)  # the same key again: still fine
    assert again.client().get("/workflows").status_code == 200
    again.assert_clean_stop()
