"""The dispatcher: the EventBridge rule's target (rate(1 minute)); fires every due schedule,
then sweeps the executions stored as running whose machine may have ended unrecorded, then
deletes a few of the stack's state machines nothing uses any more (orchestration_core.executions.machines).

The tick is the scheduled event's ``time`` (a retried delivery keeps it), else now. Work
left when the time budget runs out stays due for the next tick.
"""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from orchestration_core.executions import usecases as executions
from orchestration_core.executions.machines import MachineCollector
from orchestration_core.schedules import usecases as schedules
from orchestration_core.services import execution_services, schedule_store
from orchestration_core.shared import clock, metrics, tracing
from orchestration_core.shared.config import get_settings

logger = Logger()

# Stop taking new schedules this long before the function's timeout.
SAFETY_MARGIN_SECONDS = 15
# Where this process's garbage collection of state machines goes on from, tick after tick.
machine_collector = MachineCollector()


@logger.inject_lambda_context(log_event=False)
@tracing.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = schedules.tick_time(event, clock.now())
    budget = max(1.0, context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS)
    services = execution_services()
    report = schedules.dispatch_due(now, schedule_store(), services, budget_seconds=budget)
    fires = report.started + report.recovered
    metrics.count(metrics.SCHEDULES_FIRED, fires)
    metrics.count(metrics.EXECUTIONS_STARTED, fires)
    result = {**report.as_dict(), "reconciled": executions.sweep(services, clock.now())}
    if context.get_remaining_time_in_millis() / 1000 > SAFETY_MARGIN_SECONDS:
        grace = timedelta(days=get_settings().machine_gc_grace_days)
        collected = machine_collector.collect(services, clock.now(), grace)
        result["machines"] = collected.as_dict()
        metrics.count(metrics.MACHINES_DELETED, len(collected.deleted))
        if collected.deleted:
            logger.info("unused state machines deleted", extra={"deleted": collected.deleted})
    # The tick and each fire are logged at debug (every fire is also in its schedule's
    # recentActions); only fires that failed or wait for a retry are logged above it.
    logger.debug("dispatch tick", extra=result)
    for fired in report.fired:
        logger.debug("schedule fired", extra=fired)
    if report.failed or report.retrying:
        logger.warning("dispatch tick with failed fires", extra=result)
    return result
