"""Settings read from a function's environment: what each variable may hold, and the errors."""

from __future__ import annotations

import pytest
from orchestration_core.shared.config import Settings, settings_from


def test_the_environment_becomes_settings() -> None:
    settings = settings_from(
        {
            "TABLE_NAME": "t",
            "AWS_REGION": "eu-west-1",
            "TASK_TYPES": '{"resize": "arn:aws:lambda:eu-west-1:1:function:s-task-resize"}',
            "STATE_MACHINE_PREFIX": "s-",
            "STATE_MACHINE_LOG_LEVEL": "ERROR",
            "MACHINE_GC_GRACE_DAYS": "0.5",
            "TASK_FUNCTION_PREFIX": "team-a-",
            "HTTP_TASK_ALLOWED_CIDRS": "10.1.0.0/16,::1",
        }
    )
    assert settings.aws_region == "eu-west-1"
    assert settings.task_types == {"resize": "arn:aws:lambda:eu-west-1:1:function:s-task-resize"}
    assert (settings.state_machine_prefix, settings.state_machine_log_level) == ("s-", "ERROR")
    assert settings.machine_gc_grace_days == 0.5
    assert (settings.task_function_prefix, settings.http_task_allowed_cidrs) == ("team-a-", "10.1.0.0/16,::1")
    assert settings_from({"TABLE_NAME": "t"}) == Settings(table_name="t")
    # Unset or empty: the template's default prefix, and no address allowed
    default = settings_from({"TABLE_NAME": "t", "TASK_FUNCTION_PREFIX": "", "HTTP_TASK_ALLOWED_CIDRS": ""})
    assert (default.task_function_prefix, default.http_task_allowed_cidrs) == ("orchestration-task-", "")


def test_an_unreadable_allow_list_is_left_to_the_http_tasks() -> None:
    # It fails the http tasks (netguard names the entry), not every task of the runner at start
    settings = settings_from({"TABLE_NAME": "t", "HTTP_TASK_ALLOWED_CIDRS": "bogus"})
    assert settings.http_task_allowed_cidrs == "bogus"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "TABLE_NAME is not set"),
        ({"TABLE_NAME": "t", "STATE_MACHINE_LOG_LEVEL": "DEBUG"}, "not one of ALL, ERROR, FATAL, OFF"),
        ({"TABLE_NAME": "t", "MACHINE_GC_GRACE_DAYS": "-1"}, "not 0 or more"),
        ({"TABLE_NAME": "t", "MACHINE_GC_GRACE_DAYS": "nan"}, "not 0 or more"),
        ({"TABLE_NAME": "t", "TASK_TYPES": '["resize"]'}, "TASK_TYPES must map"),
        ({"TABLE_NAME": "t", "TASK_TYPES": '{"resize": 1}'}, "TASK_TYPES must map"),
        ({"TABLE_NAME": "t", "TASK_FUNCTION_PREFIX": "team a"}, "TASK_FUNCTION_PREFIX 'team a' must be"),
        ({"TABLE_NAME": "t", "TASK_FUNCTION_PREFIX": "arn:x-"}, "letters, digits, '-' and '_'"),
    ],
)
def test_a_bad_variable_is_refused_with_its_name(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings_from(environ)
