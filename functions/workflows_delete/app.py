"""DELETE /workflows/{workflowId}: delete a workflow (and its schedules)."""

from orchestration_core.schedules import usecases as schedules
from orchestration_core.services import schedule_store, workflow_store
from orchestration_core.shared.http import Resolver, api_handler
from orchestration_core.workflows import usecases as workflows
from orchestration_core.workflows.api import DeleteResult

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
