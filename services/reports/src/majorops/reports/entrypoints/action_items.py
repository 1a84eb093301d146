"""Action items: created, changed and completed per review (each an event), listed across incidents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from majorops.reports.commands import ActionItemChanges, NewActionItem
from majorops.reports.entrypoints.dependencies import Author, Now, Ports
from majorops.reports.entrypoints.openapi import problem_responses
from majorops.reports.entrypoints.parameters import DEFAULT_PAGE_SIZE, Cursor, Limit, unknown_unless_valid
from majorops.reports.entrypoints.response_models import AcceptedChange, ActionItemListItem, ActionItemPage
from majorops.reports.entrypoints.responses import accepted_response
from majorops.reports.handlers.action_items import (
    complete_action_item,
    create_action_item,
    update_action_item,
)
from majorops.reports.handlers.materialise import decode_cursor, list_action_items
from majorops.reports.ports import ActionItemQuery
from majorops.shared.access import problem_response
from majorops.shared.problems import Problem

router = APIRouter()


@router.post(
    "/v1/reviews/{incident_id}/action-items",
    status_code=202,
    response_model=AcceptedChange,
    responses=problem_responses(403, 400, 404, 409, 413, 422, 503),
    summary="Create an action item",
)
async def post_action_item(incident_id: str, item: NewActionItem, ports: Ports, author: Author) -> Response:
    """Emits ``majorops.actionitem.created``; ``item_id`` is generated (``AI-…``) when absent."""
    unknown = unknown_unless_valid(incident_id)
    if unknown is not None:
        return problem_response(unknown)
    return accepted_response(await create_action_item(incident_id, item, ports, author=author))


@router.patch(
    "/v1/reviews/{incident_id}/action-items/{item_id}",
    status_code=202,
    response_model=AcceptedChange,
    responses=problem_responses(403, 400, 404, 413, 422, 503),
    summary="Change an action item",
)
async def patch_action_item(
    incident_id: str, item_id: str, changes: ActionItemChanges, ports: Ports, author: Author
) -> Response:
    """Emits ``majorops.actionitem.updated`` with the fields given (``null`` clears owner or due)."""
    unknown = unknown_unless_valid(incident_id, item_id)
    if unknown is not None:
        return problem_response(unknown)
    return accepted_response(await update_action_item(incident_id, item_id, changes, ports, author=author))


@router.post(
    "/v1/reviews/{incident_id}/action-items/{item_id}/complete",
    status_code=202,
    response_model=AcceptedChange,
    responses=problem_responses(403, 400, 404, 409, 413, 503),
    summary="Complete an action item",
)
async def post_complete(incident_id: str, item_id: str, ports: Ports, author: Author) -> Response:
    """Emits ``majorops.actionitem.completed``; ``409`` when the item is already completed."""
    unknown = unknown_unless_valid(incident_id, item_id)
    if unknown is not None:
        return problem_response(unknown)
    return accepted_response(await complete_action_item(incident_id, item_id, ports, author=author))


@router.get(
    "/v1/action-items",
    response_model=ActionItemPage,
    responses=problem_responses(422),
    summary="Action items across incidents",
)
async def get_action_items(
    ports: Ports,
    now: Now,
    open: Annotated[bool | None, Query(description="true: open items only; false: completed only")] = None,
    overdue: Annotated[bool | None, Query(description="true: open and past their due time")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response:
    """Every incident's action items by (incident id, item id), filtered and paged."""
    after = decode_cursor(cursor, 2) if cursor is not None else None
    if isinstance(after, Problem):
        return problem_response(after)
    query = ActionItemQuery(
        now=now,
        open=open,
        overdue=overdue,
        limit=limit,
        after=(after[0], after[1]) if after else None,
    )
    page = await list_action_items(query, ports)
    body = ActionItemPage(
        items=[ActionItemListItem.of(row, now) for row in page.items], next_cursor=page.next_cursor
    )
    return JSONResponse(body.model_dump(mode="json"))
