"""Request and response models of the task-type routes (camelCase on the wire)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from orchestration_core.shared.api import Description, Model, RequestModel


# -- task types ------------------------------------------------------------------------------------
class TaskTypeIn(RequestModel):
    functionArn: Annotated[
        str, StringConstraints(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9:_.$-]+$")
    ]
    description: Description = ""


class TaskTypeOut(Model):
    name: str
    functionArn: str
    description: str
    createdAt: str | None = None
    updatedAt: str | None = None
    # builtin (run by the service; no function), deployment (the stack's TaskTypes) or registered
    source: Literal["builtin", "deployment", "registered"] = "registered"


class TaskTypeList(Model):
    taskTypes: list[TaskTypeOut]
