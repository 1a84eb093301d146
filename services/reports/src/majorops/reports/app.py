"""Reports: consumes the events, decisions and escalations streams and serves Learning Reviews over HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from majorops.reports.adapters.mongo import MongoReviewStore
from majorops.reports.adapters.sqlite import SqliteReviewStore
from majorops.reports.config import ReportsSettings
from majorops.reports.handlers import read_review, record_decision, record_escalation, record_event
from majorops.reports.ports import ReviewStore
from majorops.shared import subjects
from majorops.shared.events import INCIDENT_ID_PATTERN
from majorops.shared.jetstream import connect_broker, decode_json, streams_present, subscribe_durable
from nats.aio.msg import Msg

SERVICE = "reports"
PROBLEM_BASE = "https://majorops.dev/problems"
READY_NATS_TIMEOUT_SECONDS = 0.5
CONSUMED_STREAMS = (subjects.EVENTS_STREAM, subjects.DECISIONS_STREAM, subjects.ESCALATIONS_STREAM)

log = structlog.get_logger(__name__)
_INCIDENT_ID = re.compile(INCIDENT_ID_PATTERN)


async def open_store(settings: ReportsSettings) -> ReviewStore:
    """MongoDB when ``MAJOROPS_MONGODB_URL`` is set, else the embedded SQLite file in the data dir."""
    if settings.mongodb_url:
        return await MongoReviewStore.open(settings.mongodb_url, settings.mongodb_reports_database)
    return await SqliteReviewStore.open(settings.sqlite_path(SERVICE))


def stream_sequence(raw: Msg) -> int:
    """The message's JetStream stream sequence: its arrival order, which breaks ties of event time."""
    return int(raw.metadata.sequence.stream)


class StoreNotOpen(RuntimeError):
    """A message arrived before the store was opened (or after it closed): retried later, not lost."""


class ReportsRuntime:
    """The clients of one reports process, created in the lifespan (never at import)."""

    def __init__(self, settings: ReportsSettings) -> None:
        self.settings = settings
        self.extra_types = settings.extra_types
        self.broker = NatsBroker(
            settings.nats_url,
            name=f"majorops-{SERVICE}",
            max_reconnect_attempts=-1,
        )
        self.store: ReviewStore | None = None
        consumers: tuple[tuple[str, str, Callable[[Msg], Awaitable[None]]], ...] = (
            (subjects.EVENTS_STREAM, subjects.ALL_EVENTS, self.on_event),
            (subjects.DECISIONS_STREAM, subjects.ALL_DECISIONS, self.on_decision),
            (subjects.ESCALATIONS_STREAM, subjects.ALL_ESCALATIONS, self.on_escalation),
        )
        for stream, subject, handle in consumers:
            subscribe_durable(
                self.broker, service=SERVICE, stream=stream, subject=subject, settings=settings, handle=handle
            )

    async def start(self) -> None:
        # The store first: the subscribers write to it from their first message on.
        self.store = await open_store(self.settings)
        try:
            await connect_broker(self.broker)
            await self.broker.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self.broker.stop()
        if self.store is not None:
            store, self.store = self.store, None
            await store.close()

    def open_store(self) -> ReviewStore:
        if self.store is None:
            raise StoreNotOpen("the reports store is not open")
        return self.store

    async def on_event(self, raw: Msg) -> None:
        await record_event(decode_json(raw), stream_sequence(raw), self.open_store(), self.extra_types)

    async def on_decision(self, raw: Msg) -> None:
        await record_decision(decode_json(raw), self.open_store())

    async def on_escalation(self, raw: Msg) -> None:
        await record_escalation(decode_json(raw), self.open_store())

    async def ready(self) -> dict[str, bool]:
        """Each readiness check by name: NATS connected, the consumed streams present, the store answering."""
        nats_ok = await self.broker.ping(timeout=READY_NATS_TIMEOUT_SECONDS)
        streams_ok = nats_ok and await streams_present(self.broker.connection.jetstream(), CONSUMED_STREAMS)
        try:
            store_ok = self.store is not None and await self.store.ping()
        except Exception as exc:
            log.warning("reports.store_unavailable", error=str(exc))
            store_ok = False
        return {"nats": nats_ok, "streams": streams_ok, "store": store_ok}


def problem_response(status: int, title: str, detail: str, slug: str) -> JSONResponse:
    """An RFC 9457 problem document."""
    return JSONResponse(
        {"type": f"{PROBLEM_BASE}/{slug}", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def unknown_incident(incident_id: str) -> JSONResponse:
    return problem_response(
        404,
        "Unknown incident",
        f"No event, decision or escalation of incident {incident_id!r} has been recorded",
        "unknown-incident",
    )


def create_app(settings: ReportsSettings | None = None) -> FastAPI:
    runtime = ReportsRuntime(settings or ReportsSettings())

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
        description="Learning Reviews assembled from incident events, After Action decisions and escalations.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime

    @app.get(
        "/v1/reviews/{incident_id}",
        responses={
            200: {"description": "The incident's Learning Review"},
            404: {"description": "Unknown incident (application/problem+json)"},
        },
    )
    async def get_review(incident_id: str) -> JSONResponse:
        """The Learning Review of one incident: summary, timeline, After Action decision, escalations."""
        if not _INCIDENT_ID.match(incident_id):
            return unknown_incident(incident_id)
        review = await read_review(incident_id, runtime.open_store())
        if review is None:
            return unknown_incident(incident_id)
        return JSONResponse(review)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Connected to NATS, the consumed streams exist and the store answers."""
        checks = await runtime.ready()
        ok = all(checks.values())
        body: dict[str, Any] = {"status": "ready" if ok else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    return app
