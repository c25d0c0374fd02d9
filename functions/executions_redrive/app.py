"""POST /executions/{executionId}/redrive: run a failed or cancelled execution again from where
it stopped (same id; completed tasks keep their results). 409 unless failed or cancelled."""

from orchestration_core.executions import usecases as executions
from orchestration_core.executions.api import ExecutionDetail
from orchestration_core.services import execution_services
from orchestration_core.shared.http import Resolver, api_handler

app = Resolver()


@app.post("/executions/<executionId>/redrive", summary="Redrive a failed or cancelled execution")
def redrive_execution(executionId: str) -> ExecutionDetail:
    redriven = executions.redrive_execution(execution_services(), app.tenant_id(), executionId)
    return ExecutionDetail.of(redriven)


lambda_handler = api_handler(app)
