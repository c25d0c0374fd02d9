"""GET /schedules/{scheduleId}: a schedule with its next and last runs."""

from orchestration_core import schedules
from orchestration_core.http import Resolver, api_handler
from orchestration_core.schedule_models import ScheduleOut
from orchestration_core.schedule_services import schedule_store

app = Resolver()


@app.get("/schedules/<scheduleId>", summary="Get a schedule")
def get_schedule(scheduleId: str) -> ScheduleOut:
    return ScheduleOut.of(schedules.get_schedule(schedule_store(), app.tenant_id(), scheduleId))


lambda_handler = api_handler(app)
