"""PUT /task-types/{name}: register (or re-point) a custom task type to a Lambda function."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from orchestration_core.services import task_type_registry
from orchestration_core.shared.errors import FieldError, ValidationFailed
from orchestration_core.shared.http import Resolver, api_handler
from orchestration_core.tasktypes.api import TaskTypeIn, TaskTypeOut
from orchestration_core.tasktypes.builtins import BUILTIN_TYPES
from orchestration_core.tasktypes.registry import check_function, this_deployment, valid_type_name

app = Resolver()


@app.put("/task-types/<name>", summary="Register a custom task type")
def put_task_type(name: str, body: Annotated[TaskTypeIn, Body()]) -> TaskTypeOut:
    if not valid_type_name(name) or name in BUILTIN_TYPES:
        raise ValidationFailed(
            "Task type names are 1..64 characters of [A-Za-z0-9_.-] and not a built-in type.",
            [FieldError("name", "invalid or reserved task type name")],
        )
    # Only a function of this deployment's account and region, named with its task prefix.
    check_function(
        body.functionArn, this_deployment(getattr(app.lambda_context, "invoked_function_arn", None))
    )
    item = task_type_registry().put(app.tenant_id(), name, body.functionArn, body.description)
    return TaskTypeOut.model_validate(item, from_attributes=False, strict=False)


lambda_handler = api_handler(app)
