"""GET /schedules: the caller's schedules, newest first, optionally of one workflow."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from orchestration_core.schedules import usecases as schedules
from orchestration_core.schedules.api import ScheduleList, ScheduleSummary
from orchestration_core.services import schedule_store
from orchestration_core.shared.http import Resolver, api_handler

app = Resolver()


@app.get("/schedules", summary="List schedules")
def list_schedules(
    workflowId: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    nextToken: Annotated[str | None, Query(max_length=512)] = None,
) -> ScheduleList:
    page = schedules.list_schedules(schedule_store(), app.tenant_id(), workflowId, limit, offset, nextToken)
    return ScheduleList(
        schedules=[ScheduleSummary.of(sc) for sc in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        nextToken=page.next_token,
    )


lambda_handler = api_handler(app)
