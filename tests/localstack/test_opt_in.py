"""The opt-in LocalStack suite really runs when its variables are set.

`make localstack-test` reads LOCALSTACK_API_URL / LOCALSTACK_API_KEY (printed by
localstack/deploy.sh as `export` lines). Without Docker no LocalStack can start here, so the
variables point at the embedded runtime, which serves the same API: the suite must pass with
every test run and none skipped (a skip would hide a suite that never ran).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import start_dev_server

SUITE = Path(__file__).with_name("test_localstack.py")
REPO = Path(__file__).resolve().parents[2]


def test_localstack_suite_runs_when_its_variables_are_set(tmp_path: Path) -> None:
    server = start_dev_server(tmp_path / "work", tmp_path / "data")
    try:
        env = {
            **os.environ,
            "LOCALSTACK_API_URL": server.base_url,
            "LOCALSTACK_API_KEY": server.api_key,
        }
        done = subprocess.run(
            # What `make localstack-test` runs, on the suite's file.
            [sys.executable, "-m", "pytest", str(SUITE), "-m", "localstack", "-rs", "-p", "no:cacheprovider"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        server.assert_clean_stop()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    summary = output.strip().splitlines()[-1]
    assert re.search(r"\b2 passed\b", summary), summary
    assert "skipped" not in summary, output
