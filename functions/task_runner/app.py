"""The task runner, invoked by the compiled state machines (see orchestration_core.executions.runner)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from orchestration_core.executions.runner import RunnerEvent
from orchestration_core.services import runner
from orchestration_core.shared import metrics, tracing

logger = Logger()


@logger.inject_lambda_context(log_event=False)
@tracing.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RunnerEvent)
def lambda_handler(event: RunnerEvent, context: LambdaContext) -> dict[str, Any]:
    # Per-thread keys: one invocation's execution never labels another's log lines, even where
    # several invocations share a process (the embedded runtime).
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(execution_id=event.executionId, task=event.task, action=event.action)
    if event.action in {"run", "complete"}:
        # A task's attempt: a built-in or custom task run here, or a wait/lambda task's end.
        metrics.count(metrics.TASKS_RUN)
    out = runner().handle(event)
    if event.action == "finish":
        failed = event.status == "failed"
        metrics.count(metrics.EXECUTIONS_FAILED if failed else metrics.EXECUTIONS_COMPLETED)
    return out
