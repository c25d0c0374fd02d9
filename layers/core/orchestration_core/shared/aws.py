"""boto3 clients, created once per process (cold start) and shared."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from orchestration_core.shared.config import get_settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    make: Any = boto3.client  # the service is a runtime string; typed stubs want a literal
    return make(service, region_name=get_settings().aws_region, config=_CONFIG)
