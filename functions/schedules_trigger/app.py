"""POST /schedules/{scheduleId}/trigger: run the schedule now (its overlap policy applies)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestration_core.schedules import usecases as schedules
from orchestration_core.schedules.api import TriggerAccepted, TriggerRequest
from orchestration_core.services import execution_services, schedule_store
from orchestration_core.shared import clock, metrics
from orchestration_core.shared.http import Resolver, api_handler, json_response

app = Resolver()


@app.post("/schedules/<scheduleId>/trigger", status_code=202, summary="Run a schedule now")
def trigger_schedule(
    scheduleId: str, body: Annotated[TriggerRequest | None, Body()] = None
) -> Response[TriggerAccepted]:
    policy = body.overlapPolicy if body else None
    done = schedules.trigger_schedule(
        schedule_store(), execution_services(), app.tenant_id(), scheduleId, policy, clock.now()
    )
    if done.status == "started":
        metrics.count(metrics.EXECUTIONS_STARTED)
    return json_response(
        status_code=202,
        body=TriggerAccepted(
            executionId=done.execution_id, status=done.status, scheduledAt=done.scheduled_at
        ),
        headers={"Location": app.location(f"/executions/{done.execution_id}")},
    )


lambda_handler = metrics.log_metrics(api_handler(app))
