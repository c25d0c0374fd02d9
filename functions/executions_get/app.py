"""GET /executions/{executionId}: an execution with each task's progress."""

from orchestration_core.executions import usecases as executions
from orchestration_core.executions.api import ExecutionDetail
from orchestration_core.services import execution_services
from orchestration_core.shared.http import Resolver, api_handler

app = Resolver()


@app.get("/executions/<executionId>", summary="Get an execution")
def get_execution(executionId: str) -> ExecutionDetail:
    return ExecutionDetail.of(executions.get_execution(execution_services(), app.tenant_id(), executionId))


lambda_handler = api_handler(app)
