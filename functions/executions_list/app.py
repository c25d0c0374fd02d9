"""GET /executions: the caller's executions, newest first, filtered by workflow and status."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from orchestration_core.executions import usecases as executions
from orchestration_core.executions.api import ExecutionList, ExecutionSummary
from orchestration_core.services import execution_services
from orchestration_core.shared.http import Resolver, api_handler

app = Resolver()


@app.get("/executions", summary="List executions")
def list_executions(
    workflowId: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    status: Annotated[
        Literal["pending", "running", "completed", "failed", "cancelled"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    nextToken: Annotated[str | None, Query(max_length=512)] = None,
) -> ExecutionList:
    page = executions.list_executions(
        execution_services(), app.tenant_id(), workflowId, status, limit, offset, nextToken
    )
    return ExecutionList(
        executions=[ExecutionSummary.of(ex) for ex in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        nextToken=page.next_token,
    )


lambda_handler = api_handler(app)
