"""POST /schedules/{scheduleId}/backfill: one run per past cron slot in [startAt, endAt)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestration_core.schedules import usecases as schedules
from orchestration_core.schedules.api import BackfillAccepted, BackfillRequest
from orchestration_core.services import execution_services, schedule_store
from orchestration_core.shared import clock, metrics
from orchestration_core.shared.http import Resolver, api_handler, json_response

app = Resolver()


@app.post("/schedules/<scheduleId>/backfill", status_code=202, summary="Backfill a schedule's past slots")
def backfill_schedule(
    scheduleId: str, body: Annotated[BackfillRequest, Body()]
) -> Response[BackfillAccepted]:
    done = schedules.backfill_schedule(
        schedule_store(), execution_services(), app.tenant_id(), scheduleId, body, clock.now()
    )
    metrics.count(metrics.EXECUTIONS_STARTED, len(done.execution_ids))
    return json_response(
        status_code=202,
        body=BackfillAccepted(
            slots=len(done.scheduled_at),
            executionIds=done.execution_ids,
            scheduledAt=done.scheduled_at,
            skipped=done.skipped,
        ),
    )


lambda_handler = metrics.log_metrics(api_handler(app))
