"""DELETE /workflows/{workflowId}: delete a workflow (and its schedules)."""

from orchestration_core import schedules, workflows
from orchestration_core.api_models import DeleteResult
from orchestration_core.http import Resolver, api_handler
from orchestration_core.schedule_services import schedule_store
from orchestration_core.services import workflow_store

app = Resolver()


@app.delete("/workflows/<workflowId>", summary="Delete a workflow")
def delete_workflow(workflowId: str) -> DeleteResult:
    tenant = app.tenant_id()
    workflows.delete_workflow(
        workflow_store(),
        tenant,
        workflowId,
        app.header("If-Match"),
        before_delete=lambda wf: schedules.delete_for_workflow(schedule_store(), tenant, wf.id),
    )
    return DeleteResult()


lambda_handler = api_handler(app)
