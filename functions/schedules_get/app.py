"""GET /schedules/{scheduleId}: a schedule with its next and last runs."""

from orchestration_core.schedules import usecases as schedules
from orchestration_core.schedules.api import ScheduleOut
from orchestration_core.services import schedule_store
from orchestration_core.shared import clock
from orchestration_core.shared.http import Resolver, api_handler

app = Resolver()


@app.get("/schedules/<scheduleId>", summary="Get a schedule")
def get_schedule(scheduleId: str) -> ScheduleOut:
    sc = schedules.get_schedule(schedule_store(), app.tenant_id(), scheduleId)
    return ScheduleOut.of(sc, schedules.upcoming_run_times(sc, clock.now()))


lambda_handler = api_handler(app)
