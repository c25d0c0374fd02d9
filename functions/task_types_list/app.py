"""GET /task-types: every task type a workflow of the caller can use (built-in, the
deployment's, and the tenant's registrations), by name."""

from orchestration_core.services import task_type_registry
from orchestration_core.shared.http import Resolver, api_handler
from orchestration_core.tasktypes.api import TaskTypeList, TaskTypeOut

app = Resolver()


@app.get("/task-types", summary="List task types")
def list_task_types() -> TaskTypeList:
    items = task_type_registry().list(app.tenant_id())
    return TaskTypeList(taskTypes=[TaskTypeOut.model_validate(item) for item in items])


lambda_handler = api_handler(app)
