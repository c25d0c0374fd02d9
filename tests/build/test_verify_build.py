"""`sam build`, then every function run from its built artifact against a moto server.

What `make verify-build` runs (scripts/verify_build.py): the built layer ships bytecode and
neither boto3/botocore nor unused packages, and the seed's flow (task types, create, execute
to completion, get, list, cancel, redrive, schedules CRUD, trigger, backfill, a dispatcher
tick, the console, a refused key) passes with each function in its own process holding only
its built directory, the built layer and a separate boto3. Skipped, saying why, only when
aws-sam-cli cannot be installed; a failed build or scenario fails the test.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from scripts import lambda_env
from tests.conftest import COLD_START_FIGURE

pytestmark = pytest.mark.build
# Not a time limit on the build (a few minutes): a bound that only a hang reaches.
HANG = 1800


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` from the repository, failing (not hanging) past HANG seconds."""
    try:
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=lambda_env.REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=HANG,
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{module} still running after {HANG} s (a hung function?)\n{err.stdout!r}")


def test_built_functions_run_the_seed_flow() -> None:
    try:
        lambda_env.sam_cli()
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"aws-sam-cli {lambda_env.SAM_CLI_VERSION} cannot be installed here: {err}")
    proc = _run("scripts.verify_build")
    print(proc.stdout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-8000:]}\n{proc.stderr[-8000:]}"


def test_the_cold_import_benchmark_runs_on_the_built_code() -> None:
    """bench.cold_imports in CI: it must run and print its figures; it never fails on time."""
    proc = _run("bench.cold_imports", "--quick", "--repeat", "1")
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("cold start vs import boto3"), last
    COLD_START_FIGURE.parent.mkdir(parents=True, exist_ok=True)
    COLD_START_FIGURE.write_text(last + "\n")  # tests/conftest.py shows it in the summary
