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

pytestmark = pytest.mark.build
# Not a time limit on the build (a few minutes): a bound that only a hang reaches.
HANG = 1800


def test_built_functions_run_the_seed_flow() -> None:
    try:
        lambda_env.sam_cli()
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"aws-sam-cli {lambda_env.SAM_CLI_VERSION} cannot be installed here: {err}")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "scripts.verify_build"],
            cwd=lambda_env.REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=HANG,
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"verify-build still running after {HANG} s (a hung function?)\n{err.stdout!r}")
    print(proc.stdout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-8000:]}\n{proc.stderr[-8000:]}"


def test_the_cold_import_benchmark_runs_on_the_built_code(capsys: pytest.CaptureFixture[str]) -> None:
    """bench.cold_imports in CI: it must run and print its figures; it never fails on time."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.cold_imports", "--quick", "--repeat", "1"],
            cwd=lambda_env.REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=HANG,
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"bench.cold_imports still running after {HANG} s\n{err.stdout!r}")
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("cold start vs import boto3"), last
    with capsys.disabled():  # the figure, in CI's log
        print(f"\n{last}")
