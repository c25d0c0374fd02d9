"""POST /workflows/{workflowId}/execute: start an execution (Idempotency-Key honoured for 24 h)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestration_core.executions import usecases as executions
from orchestration_core.executions.api import ExecuteAccepted, ExecuteRequest
from orchestration_core.services import execution_services
from orchestration_core.shared import metrics
from orchestration_core.shared.errors import FieldError, ValidationFailed
from orchestration_core.shared.http import Resolver, api_handler, json_response

app = Resolver()


@app.post("/workflows/<workflowId>/execute", status_code=202, summary="Execute a workflow")
def execute_workflow(
    workflowId: str,
    body: Annotated[ExecuteRequest | None, Body()] = None,
) -> Response[ExecuteAccepted]:
    key = app.header("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 256 and key.isprintable()):
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 256 printable characters.",
            [FieldError("Idempotency-Key", "invalid header value")],
        )
    parameters = (body.parameters if body else None) or {}
    ex = executions.start_execution(execution_services(), app.tenant_id(), workflowId, parameters, key)
    metrics.count(metrics.EXECUTIONS_STARTED)
    return json_response(
        status_code=202,
        body=ExecuteAccepted(executionId=ex.id, startedAt=ex.started_at),
        headers={"Location": app.location(f"/executions/{ex.id}")},
    )


lambda_handler = metrics.log_metrics(api_handler(app))
