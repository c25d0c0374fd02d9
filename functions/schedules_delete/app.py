"""DELETE /schedules/{scheduleId}: delete a schedule (executions it started stay)."""

from orchestration_core import schedules
from orchestration_core.api_models import DeleteResult
from orchestration_core.http import Resolver, api_handler
from orchestration_core.schedule_services import schedule_store

app = Resolver()


@app.delete("/schedules/<scheduleId>", summary="Delete a schedule")
def delete_schedule(scheduleId: str) -> DeleteResult:
    schedules.delete_schedule(schedule_store(), app.tenant_id(), scheduleId)
    return DeleteResult()


lambda_handler = api_handler(app)
