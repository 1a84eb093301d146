"""Ingest: HTTP (FastAPI) and the NATS request subject, both publishing to JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from faststream.nats.annotations import NatsMessage

from majorops.ingest.adapters.jetstream import JetStreamEventPublisher
from majorops.ingest.config import IngestSettings
from majorops.ingest.domain.alertmanager import AmWebhook, webhook_to_events
from majorops.ingest.domain.batch import MAX_BATCH, MAX_BODY_BYTES, IngestOutcome, too_large
from majorops.ingest.handlers import PublishFailed, accept_events, parse_body, unavailable
from majorops.shared import subjects
from majorops.shared.consumers import connect_broker, start_broker
from majorops.shared.events import CloudEvent
from majorops.shared.jetstream import make_broker, streams_present
from majorops.shared.lifecycle import stop_broker
from majorops.shared.problems import PROBLEM_MEDIA_TYPE, Problem

SERVICE = "ingest"
REQUEST_WORKERS = 8
log = structlog.get_logger(__name__)


class IngestRuntime:
    """The clients of one ingest process, created in the lifespan (never at import)."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.extra_types = settings.extra_types
        self.broker = make_broker(settings, SERVICE)
        self.publisher: JetStreamEventPublisher | None = None
        # Requests are answered concurrently, as HTTP requests are (one at a time capped NATS ingest).
        self.broker.subscriber(
            subjects.INGEST_REQUEST, queue=subjects.INGEST_QUEUE_GROUP, max_workers=REQUEST_WORKERS
        )(self.on_request)

    async def start(self) -> None:
        connection = await connect_broker(self.broker)
        self.publisher = await JetStreamEventPublisher.open(connection.jetstream())
        await start_broker(self.broker)

    async def stop(self) -> None:
        await stop_broker(self.broker)

    async def ingest(self, raw: bytes) -> IngestOutcome | Problem:
        if len(raw) > MAX_BODY_BYTES:
            return too_large()
        body = parse_body(raw)
        if isinstance(body, Problem):
            return body
        return await self.accept(body)

    async def ingest_alertmanager(self, raw: bytes) -> IngestOutcome | Problem:
        body = parse_body(raw)
        if isinstance(body, Problem):
            return body
        events = webhook_to_events(body)
        if isinstance(events, Problem):
            return events
        if not events:
            return IngestOutcome()
        # One notification of a large group is one request, whatever the count of events it makes.
        return await self.accept(events, limit=None)

    async def accept(self, body: Any, limit: int | None = MAX_BATCH) -> IngestOutcome | Problem:
        if self.publisher is None:
            return unavailable("not connected to NATS yet")
        try:
            return await accept_events(body, self.publisher, self.extra_types, limit)
        except PublishFailed as exc:
            return unavailable(str(exc))

    async def on_request(self, msg: NatsMessage) -> dict[str, Any]:
        """``majorops.ingest``: the reply is the same JSON as the HTTP answer."""
        result = await self.ingest(msg.body)
        return result.as_dict()

    async def ready(self) -> bool:
        if self.publisher is None or not self.broker.connection.is_connected:
            return False
        return await streams_present(self.broker.connection.jetstream(), [subjects.EVENTS_STREAM])


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its local ``$defs`` references replaced by the definitions themselves,
    so that it can stand inline in the OpenAPI document (nothing there resolves ``#/$defs``)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return dict(resolve(schema))


OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["accepted", "duplicates"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0, "description": "events new to the system, published"},
        "duplicates": {"type": "integer", "minimum": 0, "description": "events whose id was accepted before"},
    },
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem document; `errors` lists each problem by array index and field",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "index": {"type": "integer"},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(problem.as_dict(), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE)


async def read_body(request: Request) -> bytes | Problem:
    """The body, refused with 413 as soon as it passes 1 MiB (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def answer(result: IngestOutcome | Problem) -> JSONResponse:
    if isinstance(result, Problem):
        return problem_response(result)
    return JSONResponse(result.as_dict(), status_code=202)


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    runtime = IngestRuntime(settings or IngestSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        log.info("ingest.started", nats_url=runtime.settings.nats_url)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="MajorOps After Action — ingest",
        version="1",
        description="Accepts incident lifecycle events (CloudEvents 1.0) and publishes them to JetStream.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime

    problem = {"application/problem+json": {"schema": PROBLEM_SCHEMA}}
    responses: dict[int | str, dict[str, Any]] = {
        202: {
            "description": "Accepted: counts of new and duplicate events",
            "content": {"application/json": {"schema": OUTCOME_SCHEMA}},
        },
        400: {"description": "Body is not JSON", "content": problem},
        413: {"description": "Body over 1 MiB", "content": problem},
        422: {"description": "Some event is invalid; nothing was published", "content": problem},
        503: {"description": "JetStream did not acknowledge; retry the request", "content": problem},
    }
    envelope = CloudEvent.model_json_schema()
    events_body = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            envelope,
                            {"type": "array", "items": envelope, "minItems": 1, "maxItems": MAX_BATCH},
                        ]
                    }
                }
            },
        }
    }
    alertmanager_body = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_definitions(AmWebhook.model_json_schema())}},
        }
    }

    @app.post("/v1/events", status_code=202, responses=responses, openapi_extra=events_body)
    async def post_events(request: Request) -> JSONResponse:
        """One CloudEvents envelope or an array of up to 1000, all or nothing."""
        raw = await read_body(request)
        return answer(raw if isinstance(raw, Problem) else await runtime.ingest(raw))

    @app.post(
        "/v1/webhooks/alertmanager", status_code=202, responses=responses, openapi_extra=alertmanager_body
    )
    async def post_alertmanager(request: Request) -> JSONResponse:
        """Prometheus Alertmanager webhook (payload version 4): each alert becomes alert.fired/resolved;
        a group's incident without an `incident_id` label (`AM-…`) also gets one incident.updated
        with the title and severity its alerts give (see docs/alertmanager.md)."""
        raw = await read_body(request)
        return answer(raw if isinstance(raw, Problem) else await runtime.ingest_alertmanager(raw))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Connected to NATS and the events stream exists."""
        ok = await runtime.ready()
        return JSONResponse({"status": "ready" if ok else "not ready"}, status_code=200 if ok else 503)

    return app
