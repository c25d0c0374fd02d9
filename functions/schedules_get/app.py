"""GET /schedules/{scheduleId}: a schedule with its next and last runs."""

from orchestration_core import clock, schedules
from orchestration_core.http import Resolver, api_handler
from orchestration_core.schedule_models import ScheduleOut
from orchestration_core.schedule_services import schedule_store

app = Resolver()


@app.get("/schedules/<scheduleId>", summary="Get a schedule")
def get_schedule(scheduleId: str) -> ScheduleOut:
    sc = schedules.get_schedule(schedule_store(), app.tenant_id(), scheduleId)
    return ScheduleOut.of(sc, schedules.upcoming_run_times(sc, clock.now()))


lambda_handler = api_handler(app)
