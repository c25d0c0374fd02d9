"""GET /workflows: the caller's workflows, newest first, by offset or nextToken."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from orchestration_core.services import workflow_store
from orchestration_core.shared.http import Resolver, api_handler
from orchestration_core.workflows import usecases as workflows
from orchestration_core.workflows.api import WorkflowList, WorkflowSummary

app = Resolver()


@app.get("/workflows", summary="List workflows")
def list_workflows(
    status: Annotated[Literal["draft", "active", "inactive"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    nextToken: Annotated[str | None, Query(max_length=512)] = None,
) -> WorkflowList:
    page = workflows.list_workflows(workflow_store(), app.tenant_id(), status, limit, offset, nextToken)
    return WorkflowList(
        workflows=[WorkflowSummary.of(wf) for wf in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        nextToken=page.next_token,
    )


lambda_handler = api_handler(app)
