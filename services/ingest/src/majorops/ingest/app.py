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
from majorops.ingest.domain.alertmanager import webhook_to_events
from majorops.ingest.domain.batch import MAX_BODY_BYTES, IngestOutcome, Problem, too_large
from majorops.ingest.handlers import PublishFailed, accept_events, parse_body, unavailable
from majorops.shared import subjects
from majorops.shared.jetstream import connect_broker, make_broker, streams_present

SERVICE = "ingest"
log = structlog.get_logger(__name__)


class IngestRuntime:
    """The clients of one ingest process, created in the lifespan (never at import)."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.extra_types = settings.extra_types
        self.broker = make_broker(settings, SERVICE)
        self.publisher: JetStreamEventPublisher | None = None
        self.broker.subscriber(subjects.INGEST_REQUEST, queue=subjects.INGEST_QUEUE_GROUP)(self.on_request)

    async def start(self) -> None:
        connection = await connect_broker(self.broker)
        self.publisher = await JetStreamEventPublisher.open(connection.jetstream())
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()

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
        return await self.accept(events)

    async def accept(self, body: Any) -> IngestOutcome | Problem:
        if self.publisher is None:
            return unavailable("not connected to NATS yet")
        try:
            return await accept_events(body, self.publisher, self.extra_types)
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


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(problem.as_dict(), status_code=problem.status, media_type="application/problem+json")


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

    responses: dict[int | str, dict[str, Any]] = {
        202: {"description": "Accepted: counts of new and duplicate events"},
        400: {"description": "Body is not JSON"},
        413: {"description": "Body over 1 MiB"},
        422: {"description": "Some event is invalid; nothing was published"},
        503: {"description": "JetStream did not acknowledge; retry the request"},
    }

    @app.post("/v1/events", status_code=202, responses=responses)
    async def post_events(request: Request) -> JSONResponse:
        """One CloudEvents envelope or an array of up to 1000, all or nothing."""
        raw = await read_body(request)
        return answer(raw if isinstance(raw, Problem) else await runtime.ingest(raw))

    @app.post("/v1/webhooks/alertmanager", status_code=202, responses=responses)
    async def post_alertmanager(request: Request) -> JSONResponse:
        """Prometheus Alertmanager webhook (payload version 4): each alert becomes alert.fired/resolved."""
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
