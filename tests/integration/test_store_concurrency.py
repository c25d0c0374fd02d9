"""The workflow store under real thread concurrency (no API lock in between): conditional
writes on moto's DynamoDB are atomic, so exactly one of N racing If-Match updates wins and
unconditioned updates are all applied."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from orchestration_core.services import workflow_store
from orchestration_core.shared.errors import PreconditionFailed
from orchestration_core.workflows import usecases as workflows
from orchestration_core.workflows.api import WorkflowCreate, WorkflowUpdate

from orchestration_local.runtime import Runtime


def _create(tenant: str) -> str:
    request = WorkflowCreate.model_validate({"name": "race", "tasks": [{"name": "a", "type": "noop"}]})
    return workflows.create_workflow(workflow_store(), tenant, request).id


def test_racing_if_match_updates_have_one_winner(runtime: Runtime) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    wid = _create(tenant)

    def attempt(i: int) -> str:
        try:
            workflows.update_workflow(workflow_store(), tenant, wid, WorkflowUpdate(name=f"n{i}"), '"1"')
            return "won"
        except PreconditionFailed:
            return "412"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(attempt, range(32)))
    assert outcomes.count("won") == 1 and outcomes.count("412") == 31
    assert workflows.get_workflow(workflow_store(), tenant, wid).revision == 2


def test_racing_plain_updates_are_all_applied(runtime: Runtime) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    wid = _create(tenant)
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: workflows.update_workflow(
                    workflow_store(), tenant, wid, WorkflowUpdate(description=f"d{i}"), None
                ),
                range(40),
            )
        )
    assert workflows.get_workflow(workflow_store(), tenant, wid).revision == 41


def test_racing_creates_keep_the_total_exact(runtime: Runtime) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(lambda _i: _create(tenant), range(60)))
    page = workflows.list_workflows(workflow_store(), tenant, None, 100, 0, None)
    assert page.total == 60 and {w.id for w in page.items} == set(ids)
    draft = workflows.list_workflows(workflow_store(), tenant, "draft", 100, 0, None)
    assert draft.total == 60
