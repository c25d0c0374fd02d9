"""POST /workflows: create a workflow."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestration_core.services import workflow_store
from orchestration_core.shared.http import Resolver, api_handler, json_response
from orchestration_core.workflows import usecases as workflows
from orchestration_core.workflows.api import WorkflowCreate, WorkflowSummary

app = Resolver()


@app.post("/workflows", status_code=201, summary="Create a workflow")
def create_workflow(body: Annotated[WorkflowCreate, Body()]) -> Response[WorkflowSummary]:
    wf = workflows.create_workflow(workflow_store(), app.tenant_id(), body)
    return json_response(
        status_code=201,
        body=WorkflowSummary.of(wf),
        headers={"ETag": wf.etag, "Location": app.location(f"/workflows/{wf.id}")},
    )


lambda_handler = api_handler(app)
