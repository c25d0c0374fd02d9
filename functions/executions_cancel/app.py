"""POST /executions/{executionId}/cancel: stop a running execution (409 once it has ended)."""

from orchestration_core.executions import usecases as executions
from orchestration_core.executions.api import ExecutionDetail
from orchestration_core.services import execution_services
from orchestration_core.shared.http import Resolver, api_handler

app = Resolver()


@app.post("/executions/<executionId>/cancel", summary="Cancel an execution")
def cancel_execution(executionId: str) -> ExecutionDetail:
    return ExecutionDetail.of(executions.cancel_execution(execution_services(), app.tenant_id(), executionId))


lambda_handler = api_handler(app)
