"""POST /schedules: run a workflow on a cron schedule."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestration_core.schedules import usecases as schedules
from orchestration_core.schedules.api import ScheduleCreate, ScheduleOut
from orchestration_core.services import schedule_store, workflow_store
from orchestration_core.shared import clock
from orchestration_core.shared.http import Resolver, api_handler, json_response

app = Resolver()


@app.post("/schedules", status_code=201, summary="Create a schedule")
def create_schedule(body: Annotated[ScheduleCreate, Body()]) -> Response[ScheduleOut]:
    now = clock.now()
    sc = schedules.create_schedule(schedule_store(), workflow_store(), app.tenant_id(), body, now)
    return json_response(
        status_code=201,
        body=ScheduleOut.of(sc, schedules.upcoming_run_times(sc, now)),
        headers={"Location": app.location(f"/schedules/{sc.id}")},
    )


lambda_handler = api_handler(app)
