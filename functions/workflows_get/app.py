"""GET /workflows/{workflowId}: a workflow with its tasks and their latest status."""

from aws_lambda_powertools.event_handler import Response
from orchestration_core.executions import usecases as executions
from orchestration_core.services import execution_services, workflow_store
from orchestration_core.shared.http import Resolver, api_handler, json_response
from orchestration_core.workflows import usecases as workflows
from orchestration_core.workflows.api import WorkflowDetail

app = Resolver()


@app.get("/workflows/<workflowId>", summary="Get a workflow")
def get_workflow(workflowId: str) -> Response[WorkflowDetail]:
    wf = workflows.get_workflow(workflow_store(), app.tenant_id(), workflowId)
    return json_response(
        status_code=200,
        body=WorkflowDetail.of(executions.latest_task_status(execution_services(), wf)),
        headers={"ETag": wf.etag},
    )


lambda_handler = api_handler(app)
