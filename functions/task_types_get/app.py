"""GET /task-types/{name}: a registered custom task type."""

from orchestration_core.services import task_type_registry
from orchestration_core.shared.http import Resolver, api_handler
from orchestration_core.tasktypes.api import TaskTypeOut
from orchestration_core.tasktypes.builtins import BUILTIN_DESCRIPTIONS

app = Resolver()


@app.get("/task-types/<name>", summary="Get a custom task type")
def get_task_type(name: str) -> TaskTypeOut:
    if name in BUILTIN_DESCRIPTIONS:  # run by the service itself: nothing to register
        return TaskTypeOut(
            name=name, functionArn="", description=BUILTIN_DESCRIPTIONS[name], source="builtin"
        )
    return TaskTypeOut.model_validate(task_type_registry().get(app.tenant_id(), name))


lambda_handler = api_handler(app)
