"""DELETE /task-types/{name}: unregister a custom task type."""

from orchestration_core.api_models import DeleteResult
from orchestration_core.http import Resolver, api_handler
from orchestration_core.services import task_type_registry

app = Resolver()


@app.delete("/task-types/<name>", summary="Delete a custom task type")
def delete_task_type(name: str) -> DeleteResult:
    task_type_registry().delete(app.tenant_id(), name)
    return DeleteResult()


lambda_handler = api_handler(app)
