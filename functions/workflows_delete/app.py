"""DELETE /workflows/{workflowId}: delete a workflow (and its schedules)."""

from orchestration_core import workflows
from orchestration_core.api_models import DeleteResult
from orchestration_core.http import Resolver, api_handler
from orchestration_core.services import workflow_store

app = Resolver()


@app.delete("/workflows/<workflowId>", summary="Delete a workflow")
def delete_workflow(workflowId: str) -> DeleteResult:
    workflows.delete_workflow(workflow_store(), app.tenant_id(), workflowId, app.header("If-Match"))
    return DeleteResult()


lambda_handler = api_handler(app)
