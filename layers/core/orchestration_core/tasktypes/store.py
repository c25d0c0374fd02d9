"""The registry of custom task types: a tenant's registrations (``PUT /task-types/{name}``, one
item each) over the deployment's ``TASK_TYPES``, and the built-ins listed beside them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration_core.shared import clock
from orchestration_core.shared.errors import NotFound
from orchestration_core.shared.table import Table
from orchestration_core.tasktypes.builtins import BUILTIN_DESCRIPTIONS, BUILTIN_TYPES

# GET /task-types: a tenant's registrations are listed whole (they are few), up to this many.
MAX_LISTED = 1000


class TaskTypeRegistry:
    def __init__(self, table: Table, deployment_types: Mapping[str, str]) -> None:
        self.table = table
        self.deployment_types = dict(deployment_types)

    def resolve(self, tenant_id: str, names: set[str]) -> dict[str, str]:
        """Function for each custom type name that is registered (missing ones are absent)."""
        found: dict[str, str] = {}
        for name in sorted(names - BUILTIN_TYPES):
            item = self.table.get(_pk(tenant_id, name), "TT")
            if item:
                found[name] = item["functionArn"]
            elif name in self.deployment_types:
                found[name] = self.deployment_types[name]
        return found

    def put(self, tenant_id: str, name: str, function_arn: str, description: str) -> dict[str, Any]:
        existing = self.table.get(_pk(tenant_id, name), "TT")
        now = clock.now_iso()
        item = {
            "PK": _pk(tenant_id, name),
            "SK": "TT",
            # GSI1 lists a tenant's registrations (GET /task-types), by name.
            "GSI1PK": _list_partition(tenant_id),
            "GSI1SK": name,
            "entity": "tasktype",
            "name": name,
            "functionArn": function_arn,
            "description": description,
            "createdAt": existing["createdAt"] if existing else now,
            "updatedAt": now,
        }
        self.table.transact([self.table.put_op(item)])
        return item

    def get(self, tenant_id: str, name: str) -> dict[str, Any]:
        item = self.table.get(_pk(tenant_id, name), "TT")
        if item is None:
            if name in self.deployment_types:
                return {
                    "name": name,
                    "functionArn": self.deployment_types[name],
                    "description": "",
                    "source": "deployment",
                }
            raise NotFound(f"Task type '{name}' is not registered.")
        return item

    def list(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every type a workflow of this tenant can use, by name: built-in, the deployment's
        (``TASK_TYPES``) and the tenant's registrations (which take precedence over the deployment's)."""
        items, _ = self.table.page(1, _list_partition(tenant_id), MAX_LISTED, 0, lambda _id: {})
        listed: dict[str, dict[str, Any]] = {
            name: {"name": name, "functionArn": "", "description": text, "source": "builtin"}
            for name, text in BUILTIN_DESCRIPTIONS.items()
        }
        for name, arn in self.deployment_types.items():
            listed[name] = {"name": name, "functionArn": arn, "description": "", "source": "deployment"}
        for item in items:
            listed[item["name"]] = {**item, "source": "registered"}
        return [listed[name] for name in sorted(listed)]

    def delete(self, tenant_id: str, name: str) -> None:
        self.get(tenant_id, name)
        self.table.transact([self.table.delete_op(_pk(tenant_id, name), "TT")])


def _list_partition(tenant_id: str) -> str:
    return f"T#{tenant_id}#TT"


def _pk(tenant_id: str, name: str) -> str:
    return f"T#{tenant_id}#TT#{name}"
