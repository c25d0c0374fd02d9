"""PUT /workflows/{workflowId}: update a workflow (If-Match for optimistic concurrency)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestration_core.executions import usecases as executions
from orchestration_core.services import execution_services, workflow_store
from orchestration_core.shared.http import Resolver, api_handler, json_response
from orchestration_core.workflows import usecases as workflows
from orchestration_core.workflows.api import WorkflowDetail, WorkflowUpdate

app = Resolver()


@app.put("/workflows/<workflowId>", summary="Update a workflow")
def update_workflow(
    workflowId: str,
    body: Annotated[WorkflowUpdate, Body()],
) -> Response[WorkflowDetail]:
    wf = workflows.update_workflow(
        workflow_store(), app.tenant_id(), workflowId, body, app.header("If-Match")
    )
    return json_response(
        status_code=200,
        body=WorkflowDetail.of(executions.latest_task_status(execution_services(), wf)),
        headers={"ETag": wf.etag},
    )


lambda_handler = api_handler(app)
