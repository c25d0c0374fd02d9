"""Settings read from the environment once per cold start. Nothing else reads os.environ."""

from __future__ import annotations

import json
import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str = Field(min_length=1)
    aws_region: str = "us-east-1"
    # Largest request body a handler accepts (SPEC: 413 above 256 KiB).
    max_body_bytes: int = 256 * 1024
    # Executions: the task runner function, the role state machines run as, and the
    # deployment's custom task types (JSON object: type name -> Lambda function name or ARN).
    task_runner_arn: str = ""
    state_machine_role_arn: str = ""
    task_types: dict[str, str] = Field(default_factory=dict)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(
        table_name=os.environ.get("TABLE_NAME", ""),
        task_runner_arn=os.environ.get("TASK_RUNNER_ARN", ""),
        state_machine_role_arn=os.environ.get("STATE_MACHINE_ROLE_ARN", ""),
        task_types=json.loads(os.environ.get("TASK_TYPES") or "{}"),
        aws_region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
