"""localstack/deploy.sh prints `export` lines that `eval "$(localstack/deploy.sh | grep LOCALSTACK_)"`
turns into exported variables, and runs the pinned samlocal with Python 3.12 first on PATH.

No Docker here, so LocalStack is replaced by what the script talks to: `samlocal` by a stub
that records how it was called, and the LocalStack endpoint by a moto server holding a
deployed stack (its ApiUrl and TableName outputs, the table that `orchestration keys create
--stack` writes the key into). Everything else is the real script.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from scripts import lambda_env

REPO = Path(__file__).resolve().parents[2]
STUB = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "{log}"
printf 'python3.12=%s\\n' "$(command -v python3.12)" >> "{log}"
"""
STACK_TEMPLATE = {
    "Resources": {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "PK", "AttributeType": "S"},
                    {"AttributeName": "SK", "AttributeType": "S"},
                ],
                "KeySchema": [
                    {"AttributeName": "PK", "KeyType": "HASH"},
                    {"AttributeName": "SK", "KeyType": "RANGE"},
                ],
            },
        }
    },
    "Outputs": {
        "ApiUrl": {"Value": "https://abc123def4.execute-api.us-east-1.amazonaws.com/v1"},
        "TableName": {"Value": {"Ref": "Table"}},
    },
}


@pytest.fixture
def endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_deploy_script_prints_export_lines(tmp_path: Path, endpoint: str) -> None:
    python312 = lambda_env.find_python()
    if python312 is None:
        pytest.skip("Python 3.12 not found: deploy.sh refuses to build without it")
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    cloudformation = session.client("cloudformation", endpoint_url=endpoint)
    cloudformation.create_stack(StackName="orchestration", TemplateBody=json.dumps(STACK_TEMPLATE))

    tools = tmp_path / "tools"
    stub = tools / "samlocal-1.71.0-sam-1.170.0" / "bin" / "samlocal"
    stub.parent.mkdir(parents=True)
    log = tmp_path / "samlocal.log"
    stub.write_text(STUB.format(log=log))
    stub.chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALSTACK_"))},
        "ORCHESTRATION_TOOLS_DIR": str(tools),
        "AWS_ENDPOINT_URL": endpoint,
    }
    done = subprocess.run(
        ["bash", "-c", 'eval "$(localstack/deploy.sh | grep LOCALSTACK_)" && env | grep ^LOCALSTACK_ | sort'],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    exported = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert exported["LOCALSTACK_API_URL"] == f"{endpoint}/restapis/abc123def4/v1/_user_request_"
    assert re.fullmatch(r"orch_\S+", exported["LOCALSTACK_API_KEY"]), exported

    calls = log.read_text().splitlines()
    assert calls[0] == "build", calls
    assert calls[1] == f"python3.12={python312.parent}/python3.12", calls
    assert calls[2].startswith("deploy --stack-name orchestration "), calls

    table = session.client("dynamodb", endpoint_url=endpoint)
    table_name = cloudformation.describe_stacks(StackName="orchestration")["Stacks"][0]["Outputs"]
    name = next(o["OutputValue"] for o in table_name if o["OutputKey"] == "TableName")
    assert table.scan(TableName=name)["Count"] >= 1  # the key was stored in the stack's table
