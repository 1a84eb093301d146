"""Reports: consumes the events, decisions and escalations streams and serves Learning Reviews over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from nats.aio.msg import Msg
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from majorops.reports.adapters.jetstream import JetStreamEventPublisher
from majorops.reports.adapters.mongo import MongoReviewStore
from majorops.reports.adapters.sqlite import SqliteReviewStore
from majorops.reports.bodies import JsonBodyGuard
from majorops.reports.commands import ActionItemChanges, NewActionItem
from majorops.reports.config import ReportsSettings
from majorops.reports.domain.learning_review import LearningReview, Narrative
from majorops.reports.domain.render_html import render_html
from majorops.reports.domain.render_markdown import render_markdown
from majorops.reports.domain.timeline import ReviewStatus
from majorops.reports.handlers import (
    Accepted,
    AlreadyPublished,
    assemble_stale,
    complete_action_item,
    create_action_item,
    decode_cursor,
    edit_narrative,
    learning_review_of,
    list_action_items,
    list_reviews,
    publish_review,
    read_review,
    record_decision,
    record_escalation,
    record_events,
    update_action_item,
)
from majorops.reports.ports import ActionItemQuery, Clock, ReportsPorts, ReviewQuery, ReviewStore, utc_now
from majorops.reports.problems import invalid_input, not_json, unknown_action_item, unknown_incident
from majorops.reports.views import (
    AcceptedChange,
    ActionItemListItem,
    ActionItemPage,
    ReviewListItem,
    ReviewPage,
)
from majorops.shared import subjects
from majorops.shared.access import TokenGate, declare_bearer, problem_response
from majorops.shared.consumers import (
    connect_broker,
    consumers_of,
    decoding_json,
    start_broker,
    subscribe_durable,
)
from majorops.shared.decisions import Requirement
from majorops.shared.events import INCIDENT_ID_PATTERN, FieldError
from majorops.shared.jetstream import decode_json, make_broker, streams_present
from majorops.shared.lifecycle import stop_broker
from majorops.shared.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA, Problem
from majorops.shared.telemetry import instrument_http, telemetry_of

SERVICE = "reports"
REALM = "majorops-reports"
BEARER_DESCRIPTION = (
    "A token of MAJOROPS_REPORTS_READ_TOKENS (GET) or MAJOROPS_REPORTS_WRITE_TOKENS (every request); "
    "401 without a valid one, 403 for a read token on a change"
)
MAX_ASSEMBLY_BACKOFF_SECONDS = 5.0
"""The longest the assembler waits for a burst to settle because its last round was slow."""
READY_NATS_TIMEOUT_SECONDS = 0.5
CONSUMED_STREAMS = (subjects.EVENTS_STREAM, subjects.DECISIONS_STREAM, subjects.ESCALATIONS_STREAM)
ASSEMBLY_BATCH = 50
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

log = structlog.get_logger(__name__)
_INCIDENT_ID = re.compile(INCIDENT_ID_PATTERN)
_ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


async def open_store(settings: ReportsSettings) -> ReviewStore:
    """MongoDB when ``MAJOROPS_MONGODB_URL`` is set, else the embedded SQLite file in the data dir."""
    if settings.mongodb_url:
        return await MongoReviewStore.open(settings.mongodb_url, settings.mongodb_reports_database)
    return await SqliteReviewStore.open(settings.sqlite_path(SERVICE))


class StoreNotOpen(RuntimeError):
    """A message or request arrived before the store was opened (or after it closed)."""


class ReportsRuntime:
    """The clients of one reports process, created in the lifespan (never at import)."""

    def __init__(self, settings: ReportsSettings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.broker = make_broker(settings, SERVICE)
        self.telemetry = telemetry_of(self.broker)
        self.store: ReviewStore | None = None
        self.ports: ReportsPorts | None = None
        self._wake = asyncio.Event()
        self._assembler: asyncio.Task[None] | None = None
        subscribe_durable(
            self.broker,
            service=SERVICE,
            stream=subjects.EVENTS_STREAM,
            subject=subjects.ALL_EVENTS,
            settings=settings,
            handle_batch=decoding_json(self.on_events),
        )
        others: tuple[tuple[str, str, Callable[[Msg], Awaitable[None]]], ...] = (
            (subjects.DECISIONS_STREAM, subjects.ALL_DECISIONS, self.on_decision),
            (subjects.ESCALATIONS_STREAM, subjects.ALL_ESCALATIONS, self.on_escalation),
        )
        for stream, subject, handle in others:
            subscribe_durable(
                self.broker, service=SERVICE, stream=stream, subject=subject, settings=settings, handle=handle
            )

    async def start(self) -> None:
        # The store first: the subscribers write to it from their first message on.
        self.store = self.telemetry.timed_store(await open_store(self.settings))
        try:
            connection = await connect_broker(self.broker, stream_replicas=self.settings.stream_replicas)
            self.ports = ReportsPorts(
                store=self.store,
                publisher=JetStreamEventPublisher(connection.jetstream()),
                clock=self.clock,
                timezone=self.settings.zone,
                extra_types=self.settings.extra_types,
            )
            await start_broker(self.broker)
        except BaseException:
            await self.stop()
            raise
        self._assembler = asyncio.create_task(self._assemble_forever(), name="reports-assembler")

    async def stop(self) -> None:
        if self._assembler is not None:
            self._assembler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._assembler
            self._assembler = None
        await stop_broker(self.broker)
        self.ports = None
        if self.store is not None:
            store, self.store = self.store, None
            await store.close()

    def open_ports(self) -> ReportsPorts:
        if self.ports is None:
            raise StoreNotOpen("the reports store is not open")
        return self.ports

    async def on_events(self, batch: Sequence[tuple[Any, int]]) -> list[BaseException | None]:
        outcomes = await record_events(batch, self.open_ports())
        self._wake.set()
        return outcomes

    async def on_decision(self, raw: Msg) -> None:
        await record_decision(decode_json(raw), self.open_ports())
        self._wake.set()

    async def on_escalation(self, raw: Msg) -> None:
        await record_escalation(decode_json(raw), self.open_ports())
        self._wake.set()

    async def _assemble_forever(self) -> None:
        """Re-assemble the reviews marked changed: on a wake-up after a burst, and every poll period
        (changes marked by other replicas, or an assembly that failed)."""
        loop = asyncio.get_running_loop()
        last_round = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.assemble_poll_seconds)
            self._wake.clear()
            # Coalesce: wait at least as long as the last round took, so that under a stream of
            # events into big incidents re-assembling takes at most about half of the time and a
            # burst costs one assembly, while an idle system still reacts in the short delay.
            await asyncio.sleep(max(self.settings.assemble_delay_seconds, last_round))
            began = loop.time()
            try:
                if await assemble_stale(self.open_ports(), ASSEMBLY_BATCH) >= ASSEMBLY_BATCH:
                    self._wake.set()  # more are waiting
            except Exception as exc:
                log.warning("reports.assembler_failed", error=str(exc))
            last_round = min(loop.time() - began, MAX_ASSEMBLY_BACKOFF_SECONDS)

    async def ready(self) -> dict[str, bool]:
        """Each readiness check by name: NATS connected, the consumed streams present, every durable
        consumer bound, the store answering."""
        nats_ok = await self.broker.ping(timeout=READY_NATS_TIMEOUT_SECONDS)
        streams_ok = nats_ok and await streams_present(self.broker.connection.jetstream(), CONSUMED_STREAMS)
        consumers = consumers_of(self.broker)
        durables_ok = bool(consumers) and all(consumer.bound for consumer in consumers)
        try:
            store_ok = self.store is not None and await self.store.ping()
        except Exception as exc:
            log.warning("reports.store_unavailable", error=str(exc))
            store_ok = False
        return {"nats": nats_ok, "streams": streams_ok, "durables": durables_ok, "store": store_ok}


# --- HTTP answers ---------------------------------------------------------------------------


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts.pop(0)
    path = ""
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else (f"{path}.{part}" if path else str(part))
    return path or "(body)"


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "string_type": "must be a string",
    "int_parsing": "must be an integer",
    "bool_parsing": "must be true or false",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
}


def validation_problem(exc: RequestValidationError) -> Problem:
    """FastAPI's validation errors as one problem naming every bad field (400 for a body not JSON)."""
    errors = exc.errors()
    for error in errors:
        if error.get("type") == "json_invalid":
            return not_json(str(error.get("ctx", {}).get("error", "invalid JSON")))
    fields = []
    for error in errors:
        message = _MESSAGES.get(error.get("type", ""), str(error.get("msg", "is invalid")))
        message = message.removeprefix("Value error, ")
        fields.append(FieldError(_field_path(tuple(error.get("loc", ()))), message))
    where = "query" if any(e.get("loc", ("",))[0] == "query" for e in errors) else "request body"
    return invalid_input(fields, where)


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method served at the path template the request's path falls under.

    Starlette's 405 names only the methods of the first route whose path matched, but one path
    template can have several routes (``GET`` and ``PATCH /v1/reviews/{incident_id}``); ``Allow``
    must list them all (RFC 9110 §15.5.6), and only those the OpenAPI documents for that template.
    """
    routes = [route for route in app.router.routes if isinstance(route, APIRoute)]
    template = next((r.path for r in routes if r.matches(request.scope)[0] is not Match.NONE), None)
    return sorted({method for r in routes if r.path == template for method in r.methods or ()})


def review_response(document: dict[str, Any], etag: str, status_code: int = 200) -> JSONResponse:
    return JSONResponse(
        document, status_code=status_code, headers={"ETag": etag, "Cache-Control": "no-cache"}
    )


def accepted_response(result: Accepted | AlreadyPublished | Problem) -> JSONResponse:
    if isinstance(result, Problem):
        return problem_response(result)
    if isinstance(result, AlreadyPublished):
        return JSONResponse(result.as_dict(), status_code=200)
    return JSONResponse(result.as_dict(), status_code=202)


def author_of(request: Request) -> str:
    """The name of the token the request was let in with (set by :class:`TokenGate`)."""
    return str(request.state.author)


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    texts = {
        400: "Body is not strict JSON (not UTF-8, NaN/Infinity, a number beyond 64 bits, a duplicate "
        "key) or nests arrays and objects more than 64 levels deep",
        401: "No valid token",
        403: "A read token on a change",
        404: "Unknown incident or action item",
        409: "Conflict with the review's current state",
        412: "The review changed since it was read (If-Match does not match its ETag)",
        413: "Body over 1 MiB",
        422: "Invalid input: every bad field is named; nothing was changed",
        428: "If-Match is required",
        503: "JetStream did not acknowledge the event; nothing was changed, retry",
    }
    return {
        code: {
            "description": f"{texts[code]} (application/problem+json)",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
        }
        for code in sorted({401, *codes})
    }


def as_answered(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document saying what reports answers, where FastAPI's own would not:

    - ``If-Match`` is required and non-blank wherever it is taken. The handler takes the header as
      optional so that a request without it gets the precise ``428`` (RFC 6585) rather than a
      generic ``422``; the document still says what a client must send.
    - FastAPI's ``422`` (``HTTPValidationError``, ``application/json``) is never sent: every
      invalid request is answered with a problem document, declared where it can happen.
    """
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter.get("name") == "if-match":
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "pattern": r"\S", "title": "If-Match"}
            responses = operation.get("responses", {})
            if "application/json" in responses.get("422", {}).get("content", {}):
                del responses["422"]
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}" not in json.dumps(schema):
            schemas.pop(name, None)
    return schema


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


StatusFilter = Annotated[ReviewStatus | None, Query(description="draft or published")]
RequirementFilter = Annotated[Requirement | None, Query(description="The After Action requirement")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
IfMatch = Annotated[str | None, Header(description="The ETag of the review being edited (required)")]


def create_app(settings: ReportsSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The reports service: ``clock`` is injectable so that tests decide what "now" (overdue) is."""
    runtime = ReportsRuntime(settings or ReportsSettings(), clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        log.info(
            "reports.started",
            nats_url=runtime.settings.nats_url,
            store="mongodb" if runtime.settings.mongodb_url else "sqlite",
        )
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="MajorOps After Action — reports",
        version="1",
        description="Learning Reviews assembled from incident events, After Action decisions and escalations: "
        "read, listed, edited (ETag/If-Match), action items tracked, published. Errors are RFC 9457 "
        "problem documents (application/problem+json).",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    # Added first, so it runs inside the token gate: only a valid token makes reports read a body.
    app.add_middleware(JsonBodyGuard)
    app.add_middleware(TokenGate, tokens=runtime.settings.tokens, realm=REALM)
    describe = app.openapi

    def openapi() -> dict[str, Any]:
        return as_answered(declare_bearer(describe(), BEARER_DESCRIPTION))

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        slug = title.lower().replace(" ", "-")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request))
        problem = Problem(exc.status_code, title, str(exc.detail), slug, headers=headers)
        return problem_response(problem)

    @app.exception_handler(StoreNotOpen)
    async def on_not_started(_: Request, exc: StoreNotOpen) -> JSONResponse:
        return problem_response(
            Problem(503, "Not ready", str(exc), "not-ready", headers={"Retry-After": "1"})
        )

    def ports() -> ReportsPorts:
        return runtime.open_ports()

    def now() -> datetime:
        return runtime.clock()

    async def current_review(incident_id: str) -> tuple[LearningReview, str] | Problem:
        if not _INCIDENT_ID.match(incident_id):
            return unknown_incident(incident_id)
        stored = await read_review(incident_id, ports())
        if stored is None:
            return unknown_incident(incident_id)
        return learning_review_of(stored), stored.etag

    # --- reviews --------------------------------------------------------------------------

    @app.get(
        "/v1/reviews",
        response_model=ReviewPage,
        responses=_problems(422),
        summary="List Learning Reviews",
    )
    async def get_reviews(
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
        at = now()
        query = ReviewQuery(
            now=at,
            status=status,
            requirement=requirement,
            overdue=overdue,
            limit=limit,
            after=after[0] if after else None,
        )
        page = await list_reviews(query, ports())
        body = ReviewPage(
            items=[ReviewListItem.of(row, at) for row in page.items], next_cursor=page.next_cursor
        )
        return JSONResponse(body.model_dump(mode="json"))

    @app.get(
        "/v1/reviews/{incident_id}.md",
        response_class=Response,
        responses={
            200: {"content": {"text/markdown": {}}, "description": "The review as Markdown"},
            **_problems(404),
        },
        summary="The Learning Review as Markdown",
    )
    async def get_review_markdown(incident_id: str) -> Response:
        """The review laid out like the seed's template, tables for action items and metrics."""
        current = await current_review(incident_id)
        if isinstance(current, Problem):
            return problem_response(current)
        return Response(render_markdown(current[0]), media_type="text/markdown; charset=utf-8")

    @app.get(
        "/v1/reviews/{incident_id}.html",
        response_class=HTMLResponse,
        responses={
            200: {"content": {"text/html": {}}, "description": "A standalone printable page"},
            **_problems(404),
        },
        summary="The Learning Review as a standalone HTML page",
    )
    async def get_review_html(incident_id: str) -> Response:
        """A printable page: every text escaped, no scripts, no external assets."""
        current = await current_review(incident_id)
        if isinstance(current, Problem):
            return problem_response(current)
        return HTMLResponse(
            render_html(current[0]),
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @app.get(
        "/v1/reviews/{incident_id}",
        responses={
            200: {
                "model": LearningReview,
                "description": "The Learning Review; its ETag header is needed to edit it",
            },
            **_problems(404),
        },
        summary="The Learning Review of one incident",
    )
    async def get_review(incident_id: str) -> Response:
        """Summary, timeline, metrics, After Action decision, data gaps, attendees, vendors, root cause,
        narrative, action items, escalations, earlier reviews, effectiveness and lint findings."""
        if not _INCIDENT_ID.match(incident_id):
            return problem_response(unknown_incident(incident_id))
        stored = await read_review(incident_id, ports())
        if stored is None:
            return problem_response(unknown_incident(incident_id))
        return review_response(stored.document, stored.etag)

    @app.patch(
        "/v1/reviews/{incident_id}",
        responses={
            200: {
                "model": LearningReview,
                "description": "The edited review with its lint findings, and its new ETag",
            },
            **_problems(403, 400, 404, 412, 413, 422, 428),
        },
        summary="Edit the narrative sections",
    )
    async def patch_review(
        request: Request, incident_id: str, patch: Narrative, if_match: IfMatch = None
    ) -> Response:
        """JSON merge patch of the narrative (root_cause, contributing_factors, went_well, changes,
        learning_statements): a section given replaces it, ``null`` returns it to what the record
        says. ``If-Match`` must carry the ETag of the review read: a stale one gets ``412``."""
        if not _INCIDENT_ID.match(incident_id):
            return problem_response(unknown_incident(incident_id))
        result = await edit_narrative(incident_id, patch, if_match, ports(), author=author_of(request))
        if isinstance(result, Problem):
            return problem_response(result)
        return review_response(result.document, result.etag)

    @app.post(
        "/v1/reviews/{incident_id}/publish",
        status_code=202,
        response_model=AcceptedChange,
        responses={
            200: {
                "description": "Already published: nothing new happened",
                "content": {"application/json": {"schema": ALREADY_PUBLISHED_SCHEMA}},
            },
            **_problems(403, 400, 404, 409, 413, 503),
        },
        summary="Publish the Learning Review",
    )
    async def post_publish(request: Request, incident_id: str) -> Response:
        """``409`` with the blocking lint findings while any error remains; else emits
        ``majorops.review.published`` (source ``majorops/reports``)."""
        if not _INCIDENT_ID.match(incident_id):
            return problem_response(unknown_incident(incident_id))
        return accepted_response(await publish_review(incident_id, ports(), author=author_of(request)))

    # --- action items -----------------------------------------------------------------------

    @app.post(
        "/v1/reviews/{incident_id}/action-items",
        status_code=202,
        response_model=AcceptedChange,
        responses=_problems(403, 400, 404, 409, 413, 422, 503),
        summary="Create an action item",
    )
    async def post_action_item(request: Request, incident_id: str, item: NewActionItem) -> Response:
        """Emits ``majorops.actionitem.created``; ``item_id`` is generated (``AI-…``) when absent."""
        if not _INCIDENT_ID.match(incident_id):
            return problem_response(unknown_incident(incident_id))
        created = await create_action_item(incident_id, item, ports(), author=author_of(request))
        return accepted_response(created)

    @app.patch(
        "/v1/reviews/{incident_id}/action-items/{item_id}",
        status_code=202,
        response_model=AcceptedChange,
        responses=_problems(403, 400, 404, 413, 422, 503),
        summary="Change an action item",
    )
    async def patch_action_item(
        request: Request, incident_id: str, item_id: str, changes: ActionItemChanges
    ) -> Response:
        """Emits ``majorops.actionitem.updated`` with the fields given (``null`` clears owner or due)."""
        if not _INCIDENT_ID.match(incident_id):
            return problem_response(unknown_incident(incident_id))
        if not _ITEM_ID.match(item_id):
            return problem_response(unknown_action_item(incident_id, item_id))
        updated = await update_action_item(incident_id, item_id, changes, ports(), author=author_of(request))
        return accepted_response(updated)

    @app.post(
        "/v1/reviews/{incident_id}/action-items/{item_id}/complete",
        status_code=202,
        response_model=AcceptedChange,
        responses=_problems(403, 400, 404, 409, 413, 503),
        summary="Complete an action item",
    )
    async def post_complete(request: Request, incident_id: str, item_id: str) -> Response:
        """Emits ``majorops.actionitem.completed``; ``409`` when the item is already completed."""
        if not _INCIDENT_ID.match(incident_id):
            return problem_response(unknown_incident(incident_id))
        if not _ITEM_ID.match(item_id):
            return problem_response(unknown_action_item(incident_id, item_id))
        completed = await complete_action_item(incident_id, item_id, ports(), author=author_of(request))
        return accepted_response(completed)

    @app.get(
        "/v1/action-items",
        response_model=ActionItemPage,
        responses=_problems(422),
        summary="Action items across incidents",
    )
    async def get_action_items(
        open: Annotated[
            bool | None, Query(description="true: open items only; false: completed only")
        ] = None,
        overdue: Annotated[bool | None, Query(description="true: open and past their due time")] = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Response:
        """Every incident's action items by (incident id, item id), filtered and paged."""
        after = decode_cursor(cursor, 2) if cursor is not None else None
        if isinstance(after, Problem):
            return problem_response(after)
        at = now()
        query = ActionItemQuery(
            now=at,
            open=open,
            overdue=overdue,
            limit=limit,
            after=(after[0], after[1]) if after else None,
        )
        page = await list_action_items(query, ports())
        body = ActionItemPage(
            items=[ActionItemListItem.of(row, at) for row in page.items], next_cursor=page.next_cursor
        )
        return JSONResponse(body.model_dump(mode="json"))

    # --- operations -------------------------------------------------------------------------

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    ready_schema = {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"enum": ["ready", "not ready"]},
            "checks": {
                "type": "object",
                "description": "Each check by name: nats, streams, durables, store",
                "additionalProperties": {"type": "boolean"},
            },
        },
    }
    readiness = {
        200: {"description": "Ready", "content": {"application/json": {"schema": ready_schema}}},
        503: {"description": "Not ready", "content": {"application/json": {"schema": ready_schema}}},
    }

    @app.get("/readyz", responses=readiness)
    async def readyz() -> JSONResponse:
        """Connected to NATS, the consumed streams exist, every durable consumer is bound and the
        store answers."""
        checks = await runtime.ready()
        ok = all(checks.values())
        body: dict[str, Any] = {"status": "ready" if ok else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    instrument_http(app, runtime.telemetry, runtime.broker)  # GET /metrics; HTTP metrics and spans
    return app
