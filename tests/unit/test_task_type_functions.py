"""A task type registration may name only a function of this deployment's partition, region and
account whose name carries the stack's task function prefix."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from orchestration_core.shared.config import get_settings
from orchestration_core.tasktypes.registry import Deployment, function_problem, this_deployment

HERE = Deployment("aws", "us-east-1", "123456789012", "orchestration-task-")
ARN = "arn:aws:lambda:us-east-1:123456789012:function"

ACCEPTED = [
    "orchestration-task-x",
    "orchestration-task-etl_load",
    "orchestration-task-x:prod",
    "orchestration-task-x:$LATEST",
    "orchestration-task-x:7",
    "123456789012:function:orchestration-task-x",
    "123456789012:function:orchestration-task-x:prod",
    f"{ARN}:orchestration-task-x",
    f"{ARN}:orchestration-task-x:prod",
    "orchestration-task-" + "x" * 45,  # 64 characters
]


@pytest.mark.parametrize("function", ACCEPTED)
def test_functions_of_this_deployment_are_accepted(function: str) -> None:
    assert function_problem(function, HERE) is None


REFUSED = [
    ("my-function", "does not start with this deployment's task function prefix 'orchestration-task-'"),
    ("orchestration-tas", "does not start with"),
    (f"{ARN}:my-function", "does not start with"),
    ("arn:aws:lambda:eu-west-1:123456789012:function:orchestration-task-x", "in region eu-west-1"),
    ("arn:aws:lambda:us-east-1:999999999999:function:orchestration-task-x", "account 999999999999"),
    ("999999999999:function:orchestration-task-x", "account 999999999999"),
    ("arn:aws-cn:lambda:us-east-1:123456789012:function:orchestration-task-x", "partition 'aws-cn'"),
    ("arn:aws:lambda:us-east-1:123456789012:layer:orchestration-task-x", "is not a Lambda function ARN"),
    ("arn:aws:iam::123456789012:role/orchestration-task-x", "is not a Lambda function ARN"),
    (f"{ARN}:orchestration-task-x:prod:extra", "is not a Lambda function ARN"),
    ("12345:function:orchestration-task-x", "is not a Lambda function ARN"),
    ("orchestration-task-x:a:b", "is not a Lambda function name or ARN"),
    ("orchestration-task-a.b", "is not a Lambda function name"),
    ("orchestration-task-" + "x" * 46, "is not a Lambda function name"),  # 65 characters
    (":prod", "is not a Lambda function name"),
    ("orchestration-task-x:", "is not a version or alias"),
    ("orchestration-task-x:a.b", "is not a version or alias"),
]


@pytest.mark.parametrize(("function", "message"), REFUSED)
def test_other_functions_are_refused_saying_why(function: str, message: str) -> None:
    problem = function_problem(function, HERE)
    assert problem is not None and message in problem, problem


def test_without_a_known_account_only_a_name_is_accepted() -> None:
    unknown = Deployment("aws", "us-east-1", None, "orchestration-task-")
    assert function_problem("orchestration-task-x", unknown) is None
    for function in (f"{ARN}:orchestration-task-x", "123456789012:function:orchestration-task-x"):
        problem = function_problem(function, unknown)
        assert problem is not None and "give the function name" in problem


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("TASK_FUNCTION_PREFIX", "TASK_RUNNER_ARN", "STATE_MACHINE_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_the_deployment_is_the_running_function_s_own_arn(settings_env: pytest.MonkeyPatch) -> None:
    # Given the running function's ARN (Lambda's context), even with an alias
    own = "arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:stack-TaskTypesPut-AbC:live"
    # Then partition, region and account are that ARN's; the prefix is the template's default
    assert this_deployment(own) == Deployment(
        "aws-us-gov", "us-gov-west-1", "111122223333", "orchestration-task-"
    )
    settings_env.setenv("TASK_FUNCTION_PREFIX", "team-a-")
    get_settings.cache_clear()
    assert this_deployment(own).prefix == "team-a-"


def test_without_its_own_arn_the_deployment_is_the_region_and_a_known_arn_s_account(
    settings_env: pytest.MonkeyPatch,
) -> None:
    assert this_deployment(None) == Deployment("aws", "eu-central-1", None, "orchestration-task-")
    settings_env.setenv("STATE_MACHINE_ROLE_ARN", "arn:aws:iam::444455556666:role/sm")
    get_settings.cache_clear()
    assert this_deployment("not-an-arn") == Deployment(
        "aws", "eu-central-1", "444455556666", "orchestration-task-"
    )
