"""PUT /schedules/{scheduleId}: change a schedule's timing, parameters, policies or note."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestration_core.schedules import usecases as schedules
from orchestration_core.schedules.api import ScheduleOut, ScheduleUpdate
from orchestration_core.services import schedule_store
from orchestration_core.shared import clock
from orchestration_core.shared.http import Resolver, api_handler

app = Resolver()


@app.put("/schedules/<scheduleId>", summary="Update a schedule")
def update_schedule(scheduleId: str, body: Annotated[ScheduleUpdate, Body()]) -> ScheduleOut:
    now = clock.now()
    sc = schedules.update_schedule(schedule_store(), app.tenant_id(), scheduleId, body, now)
    return ScheduleOut.of(sc, schedules.upcoming_run_times(sc, now))


lambda_handler = api_handler(app)
