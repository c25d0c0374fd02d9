"""The handlers' CloudWatch metrics: Powertools Metrics, written as EMF lines into the
function's log at the end of each invocation (no API call, no extra permission).

Namespace ``POWERTOOLS_METRICS_NAMESPACE`` (template.yaml: ``Orchestration``); dimensions
``service`` (``POWERTOOLS_SERVICE_NAME``) and ``Stack`` (the stack's name), so two stacks in one
account keep their numbers apart. The handlers count; the use cases in this package do not.

Off where Powertools says metrics are off (``POWERTOOLS_METRICS_DISABLED``, or ``POWERTOOLS_DEV``
without it), as the embedded runtime sets: then nothing is counted, nothing is printed, and
no Metrics object is made. (Left to itself, Powertools keeps counting while disabled and
prints a full set once one metric has 100 values.) Checked on every call, so a test can turn
metrics on for a while. The import costs no cold-start time: Powertools' Logger already
imports its metrics package.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from orchestration_core.shared.config import get_settings

F = TypeVar("F", bound=Callable[..., Any])

# The metric names (the dashboard in template.yaml shows each).
EXECUTIONS_STARTED = "ExecutionsStarted"
EXECUTIONS_FAILED = "ExecutionsFailed"
EXECUTIONS_COMPLETED = "ExecutionsCompleted"
TASKS_RUN = "TasksRun"
SCHEDULES_FIRED = "SchedulesFired"
MACHINES_DELETED = "StateMachinesDeleted"


def enabled() -> bool:
    return not is_metrics_disabled()


@lru_cache(maxsize=1)
def _metrics() -> Any:
    from aws_lambda_powertools import Metrics

    settings = get_settings()
    metrics = Metrics(namespace=settings.metrics_namespace)
    if settings.stack_name:
        metrics.set_default_dimensions(Stack=settings.stack_name)
    return metrics


def count(name: str, value: int = 1) -> None:
    """Add ``value`` to the invocation's count of ``name`` (nothing when metrics are off or
    ``value`` is 0)."""
    if value and enabled():
        from aws_lambda_powertools.metrics import MetricUnit

        _metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


def log_metrics(handler: F) -> F:
    """What Powertools' ``log_metrics`` does, without its warning on an invocation that counted
    nothing (most task runner steps): the invocation's counts are written when it returns or
    raises. With metrics off, the handler runs as it is."""

    @wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        if not enabled():
            return handler(event, context)
        try:
            return handler(event, context)
        finally:
            metrics = _metrics()
            if metrics.metric_set:
                metrics.flush_metrics()

    return wrapper  # type: ignore[return-value]
