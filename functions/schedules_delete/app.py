"""DELETE /schedules/{scheduleId}: delete a schedule (executions it started stay)."""

from orchestration_core.schedules import usecases as schedules
from orchestration_core.services import schedule_store
from orchestration_core.shared.http import Resolver, api_handler
from orchestration_core.workflows.api import DeleteResult

app = Resolver()


@app.delete("/schedules/<scheduleId>", summary="Delete a schedule")
def delete_schedule(scheduleId: str) -> DeleteResult:
    schedules.delete_schedule(schedule_store(), app.tenant_id(), scheduleId)
    return DeleteResult()


lambda_handler = api_handler(app)
