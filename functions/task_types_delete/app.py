"""DELETE /task-types/{name}: unregister a custom task type."""

from orchestration_core.services import task_type_registry
from orchestration_core.shared.http import Resolver, api_handler
from orchestration_core.workflows.api import DeleteResult

app = Resolver()


@app.delete("/task-types/<name>", summary="Delete a custom task type")
def delete_task_type(name: str) -> DeleteResult:
    task_type_registry().delete(app.tenant_id(), name)
    return DeleteResult()


lambda_handler = api_handler(app)
