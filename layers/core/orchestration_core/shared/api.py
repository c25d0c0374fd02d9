"""What every request model of the HTTP API shares (camelCase on the wire)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Description = Annotated[str, StringConstraints(max_length=1024)]


class Model(BaseModel):
    """Base of every API model. Each function builds only the models it uses: pydantic builds a
    model's validator and serializer when it is first used, not when the module is imported
    (one module holds the models of every endpoint; bench/cold_imports.py measures the import)."""

    model_config = ConfigDict(defer_build=True)


class RequestModel(Model):
    """Unknown fields are rejected and types are not coerced ("5" is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)
