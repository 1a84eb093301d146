"""``/v1/reviews``: list, read (JSON, Markdown, HTML, the meeting invitation), edit, publish."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from majorops.reports.commands import NarrativeEdit
from majorops.reports.domain.document import LearningReview
from majorops.reports.domain.invite import meeting_invite, render_invite
from majorops.reports.domain.render_html import render_html
from majorops.reports.domain.render_markdown import render_markdown
from majorops.reports.domain.timeline import ReviewStatus
from majorops.reports.entrypoints.dependencies import Author, Now, Ports, Runtime
from majorops.reports.entrypoints.openapi import problem_responses
from majorops.reports.entrypoints.parameters import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    IfMatch,
    Limit,
    unknown_unless_valid,
)
from majorops.reports.entrypoints.response_models import AcceptedChange, ReviewListItem, ReviewPage
from majorops.reports.entrypoints.responses import accepted_response, review_response
from majorops.reports.handlers.materialise import decode_cursor, learning_review_of, list_reviews, read_review
from majorops.reports.handlers.narrative import edit_narrative
from majorops.reports.handlers.publication import publish_review
from majorops.reports.ports import ReportsPorts, ReviewQuery
from majorops.reports.problems import meeting_not_scheduled, unknown_incident
from majorops.shared.access import problem_response
from majorops.shared.decisions import Requirement, format_utc
from majorops.shared.problems import Problem

router = APIRouter()

StatusFilter = Annotated[ReviewStatus | None, Query(description="draft or published")]
RequirementFilter = Annotated[Requirement | None, Query(description="The After Action requirement")]
CALENDAR_MEDIA_TYPE = "text/calendar"
ALREADY_PUBLISHED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["incident_id", "status", "published_at", "event_id"],
    "properties": {
        "incident_id": {"type": "string"},
        "status": {"const": "published"},
        "published_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        "event_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
}
"""``200`` of ``POST /publish`` when the review was published before (``AlreadyPublished``)."""


async def current_review(incident_id: str, ports: ReportsPorts) -> LearningReview | Problem:
    """The incident's review as the domain's model (to render), or a 404."""
    stored = await read_review(incident_id, ports) if unknown_unless_valid(incident_id) is None else None
    return unknown_incident(incident_id) if stored is None else learning_review_of(stored)


@router.get(
    "/v1/reviews",
    response_model=ReviewPage,
    responses=problem_responses(422),
    summary="List Learning Reviews",
)
async def get_reviews(
    ports: Ports,
    now: Now,
    status: StatusFilter = None,
    requirement: RequirementFilter = None,
    overdue: Annotated[
        bool | None, Query(description="true: the next deadline has passed; false: it has not")
    ] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response:
    """Reviews by incident id, filtered; page with ``cursor`` = the previous page's ``next_cursor``."""
    after = decode_cursor(cursor, 1) if cursor is not None else None
    if isinstance(after, Problem):
        return problem_response(after)
    query = ReviewQuery(
        now=now,
        status=status,
        requirement=requirement,
        overdue=overdue,
        limit=limit,
        after=after[0] if after else None,
    )
    page = await list_reviews(query, ports)
    body = ReviewPage(items=[ReviewListItem.of(row, now) for row in page.items], next_cursor=page.next_cursor)
    return JSONResponse(body.model_dump(mode="json"))


@router.get(
    "/v1/reviews/{incident_id}.md",
    response_class=Response,
    responses={
        200: {"content": {"text/markdown": {}}, "description": "The review as Markdown"},
        **problem_responses(404),
    },
    summary="The Learning Review as Markdown",
)
async def get_review_markdown(incident_id: str, ports: Ports) -> Response:
    """The review laid out like the seed's template, tables for action items and metrics."""
    review = await current_review(incident_id, ports)
    if isinstance(review, Problem):
        return problem_response(review)
    return Response(render_markdown(review), media_type="text/markdown; charset=utf-8")


@router.get(
    "/v1/reviews/{incident_id}.html",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "A standalone printable page"},
        **problem_responses(404),
    },
    summary="The Learning Review as a standalone HTML page",
)
async def get_review_html(incident_id: str, ports: Ports) -> Response:
    """A printable page: every text escaped, no scripts, no external assets."""
    review = await current_review(incident_id, ports)
    if isinstance(review, Problem):
        return problem_response(review)
    return HTMLResponse(
        render_html(review),
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/v1/reviews/{incident_id}",
    responses={
        200: {
            "model": LearningReview,
            "description": "The Learning Review; its ETag header is needed to edit it",
        },
        **problem_responses(404),
    },
    summary="The Learning Review of one incident",
)
async def get_review(incident_id: str, ports: Ports) -> Response:
    """Summary, timeline, metrics, After Action decision, data gaps, attendees, vendors, root cause,
    narrative, action items, escalations, earlier reviews, effectiveness and lint findings."""
    unknown = unknown_unless_valid(incident_id)
    stored = await read_review(incident_id, ports) if unknown is None else None
    if stored is None:
        return problem_response(unknown_incident(incident_id))
    return review_response(stored.document, stored.etag)


@router.get(
    "/v1/reviews/{incident_id}/invite.ics",
    response_class=Response,
    responses={
        200: {
            "content": {CALENDAR_MEDIA_TYPE: {}},
            "description": "The After Action meeting as an iCalendar (RFC 5545) VEVENT: one UID per "
            "incident, SEQUENCE bumped by every reschedule, the required attendees as "
            "REQ-PARTICIPANT and the optional ones as OPT-PARTICIPANT, the draft's link and the "
            "hold-by deadline in the description",
        },
        **problem_responses(
            404, 409, described={409: "The After Action meeting is not scheduled yet: no time to invite to"}
        ),
    },
    summary="An invitation to the After Action meeting",
)
async def get_review_invite(incident_id: str, request: Request, ports: Ports, runtime: Runtime) -> Response:
    """The meeting of the latest ``afteraction.scheduled`` or ``rescheduled`` event, one hour long,
    for the attendees the review names; ``409`` (with ``schedule_by``) until it is scheduled. The
    review's link starts with ``MAJOROPS_PUBLIC_URL`` (never the request's ``Host``)."""
    review = await current_review(incident_id, ports)
    if isinstance(review, Problem):
        return problem_response(review)
    path = request.app.url_path_for("get_review_html", incident_id=incident_id)
    invite = meeting_invite(review, runtime.settings.public_base_url + str(path))
    if invite is None:
        schedule_by = review.after_action.deadlines.schedule_by
        return problem_response(
            meeting_not_scheduled(incident_id, format_utc(schedule_by) if schedule_by else None)
        )
    return Response(
        render_invite(invite),
        media_type=f"{CALENDAR_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{incident_id}-after-action.ics"'},
    )


@router.patch(
    "/v1/reviews/{incident_id}",
    responses={
        200: {
            "model": LearningReview,
            "description": "The edited review with its lint findings, and its new ETag",
        },
        **problem_responses(403, 400, 404, 412, 413, 422, 428),
    },
    summary="Edit the narrative sections",
)
async def patch_review(
    incident_id: str, patch: NarrativeEdit, ports: Ports, author: Author, if_match: IfMatch = None
) -> Response:
    """JSON merge patch of the narrative (root_cause, contributing_factors, went_well, changes,
    learning_statements): a section given replaces it, ``null`` returns it to what the record
    says. ``root_cause`` is its text, or an object as GET shows it (``text``,
    ``contributing_factors``) whose members given are merged. ``If-Match`` must carry the ETag of
    the review read: a stale one gets ``412``."""
    unknown = unknown_unless_valid(incident_id)
    if unknown is not None:
        return problem_response(unknown)
    result = await edit_narrative(incident_id, patch, if_match, ports, author=author)
    if isinstance(result, Problem):
        return problem_response(result)
    return review_response(result.document, result.etag)


@router.post(
    "/v1/reviews/{incident_id}/publish",
    status_code=202,
    response_model=AcceptedChange,
    responses={
        200: {
            "description": "Already published: nothing new happened",
            "content": {"application/json": {"schema": ALREADY_PUBLISHED_SCHEMA}},
        },
        **problem_responses(403, 400, 404, 409, 413, 503),
    },
    summary="Publish the Learning Review",
)
async def post_publish(incident_id: str, ports: Ports, author: Author) -> Response:
    """``409`` with the blocking lint findings while any error remains; else emits
    ``majorops.review.published`` (source ``majorops/reports``)."""
    unknown = unknown_unless_valid(incident_id)
    if unknown is not None:
        return problem_response(unknown)
    return accepted_response(await publish_review(incident_id, ports, author=author))
