"""GET /workflows/{workflowId}: a workflow with its tasks and their latest status."""

from aws_lambda_powertools.event_handler import Response
from orchestration_core import executions, workflows
from orchestration_core.api_models import WorkflowDetail
from orchestration_core.http import Resolver, api_handler
from orchestration_core.services import execution_services, workflow_store

app = Resolver()


@app.get("/workflows/<workflowId>", summary="Get a workflow")
def get_workflow(workflowId: str) -> Response[WorkflowDetail]:
    wf = workflows.get_workflow(workflow_store(), app.tenant_id(), workflowId)
    return Response(
        status_code=200,
        content_type="application/json",
        body=WorkflowDetail.of(executions.latest_task_status(execution_services(), wf)),
        headers={"ETag": wf.etag},
    )


lambda_handler = api_handler(app)
