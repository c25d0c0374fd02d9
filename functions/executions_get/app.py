"""GET /executions/{executionId}: an execution with each task's progress.

With ``If-None-Match`` (the ``ETag`` of an earlier answer) and ``waitSeconds``, the request is
held until what it shows changes or the seconds pass: a long poll, so a watcher learns that a
run ended within about 100 ms. Unchanged at the end: ``304 Not Modified``."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from orchestration_core.executions import usecases as executions
from orchestration_core.executions.api import ExecutionDetail
from orchestration_core.services import execution_services
from orchestration_core.shared.etags import entity_tags
from orchestration_core.shared.http import NotModified, Resolver, api_handler, json_response

app = Resolver()

# Seconds kept free of the function's timeout for answering after a held request.
ANSWER_MARGIN_SECONDS = 2.0


@app.get(
    "/executions/<executionId>",
    summary="Get an execution",
    responses={
        200: {"description": "The execution"},
        304: {
            "description": "Unchanged since the If-None-Match ETag (when waitSeconds is up, if given)",
            "content": {},
        },
    },
)
def get_execution(
    executionId: str,
    waitSeconds: Annotated[
        float,
        Query(
            ge=0,
            le=executions.MAX_WAIT_SECONDS,
            description="With If-None-Match: hold the request up to this long until the execution changes",
        ),
    ] = 0,
    ifNoneMatch: Annotated[
        str | None,
        Header(
            alias="If-None-Match",
            max_length=1024,
            description="ETags of answers already seen (or *): 304 if it still has one of them",
        ),
    ] = None,
) -> Response[ExecutionDetail]:
    seen = entity_tags(ifNoneMatch)
    budget = app.lambda_context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_SECONDS
    ex, unchanged = executions.watch_execution(
        execution_services(), app.tenant_id(), executionId, seen, min(waitSeconds, budget)
    )
    if unchanged:
        raise NotModified(ex.etag)
    return json_response(
        status_code=200,
        body=ExecutionDetail.of(ex),
        headers={"ETag": ex.etag},
    )


lambda_handler = api_handler(app)
