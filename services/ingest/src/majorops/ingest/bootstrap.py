"""Ingest's composition root: settings → the broker and the JetStream publisher → the runtime (its
use cases: accept a body of events, counted) → the FastAPI app with the routes of
:mod:`majorops.ingest.entrypoints` and the ``majorops.ingest`` request subscriber.

Ingest takes HTTP (FastAPI) and the NATS request subject, both publishing to JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import structlog
from fastapi import FastAPI

from majorops.ingest.adapters.jetstream import JetStreamEventPublisher
from majorops.ingest.config import IngestSettings
from majorops.ingest.domain.alertmanager import webhook_to_events
from majorops.ingest.domain.batch import MAX_BATCH, MAX_BODY_BYTES, IngestOutcome, too_large
from majorops.ingest.entrypoints.http import REALM, add_event_routes, body_limit
from majorops.ingest.entrypoints.probes import add_probe_routes
from majorops.ingest.entrypoints.requests import subscribe_requests
from majorops.ingest.entrypoints.webhooks import add_mapping_route
from majorops.ingest.handlers import (
    NATS_SENDER,
    PublishFailed,
    Sender,
    accept_events,
    parse_body,
    unavailable,
    utc_now,
)
from majorops.ingest.write_health import WriteHealth
from majorops.shared import subjects
from majorops.shared.access import Role, TokenGate, declare_bearer
from majorops.shared.connecting import connect_broker, start_consumers
from majorops.shared.consumers import DurableConsumer
from majorops.shared.http_telemetry import instrument_http
from majorops.shared.jetstream import streams_present
from majorops.shared.lifecycle import stop_broker
from majorops.shared.nats_connection import make_broker
from majorops.shared.problems import Problem
from majorops.shared.telemetry import telemetry_of

SERVICE = "ingest"
BEARER_DESCRIPTION = (
    "A secret of MAJOROPS_INGEST_TOKENS. Instead of it, a request may be signed the Standard Webhooks "
    "way with the secret as key: webhook-id, webhook-timestamp (Unix seconds, within 5 minutes) and "
    "webhook-signature: v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<body>'>"
)
log = structlog.get_logger(__name__)


class IngestRuntime:
    """The clients of one ingest process, created in the lifespan (never at import)."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.extra_types = settings.extra_types
        self.broker = make_broker(settings, SERVICE)
        self.telemetry = telemetry_of(self.broker)
        self.publisher: JetStreamEventPublisher | None = None
        self.writes = WriteHealth()
        self.consumers: list[DurableConsumer] = []  # no JetStream consumer: ingest only publishes
        subscribe_requests(self.broker, self.ingest)

    async def start(self) -> None:
        connection = await connect_broker(self.broker, stream_replicas=self.settings.stream_replicas)
        self.publisher = await JetStreamEventPublisher.open(
            connection.jetstream(), self.settings.stream_replicas
        )
        await start_consumers(self.broker, self.consumers)

    async def stop(self) -> None:
        await stop_broker(self.broker, self.consumers)

    def refused(self, problem: Problem, sender: Sender | None = None) -> Problem:
        """Count a request refused whole (``majorops_requests_rejected_total``, by its slug)."""
        self.telemetry.count_rejected("nats" if sender is NATS_SENDER else "http", problem.slug)
        return problem

    async def ingest(self, raw: bytes, sender: Sender) -> IngestOutcome | Problem:
        if len(raw) > MAX_BODY_BYTES:
            return self.refused(too_large(), sender)
        body = parse_body(raw)
        if isinstance(body, Problem):
            return self.refused(body, sender)
        return await self.accept(body, sender)

    async def ingest_alertmanager(self, raw: bytes, sender: Sender) -> IngestOutcome | Problem:
        body = parse_body(raw)
        if isinstance(body, Problem):
            return self.refused(body, sender)
        events = webhook_to_events(body)
        if isinstance(events, Problem):
            return self.refused(events, sender)
        if not events:
            return IngestOutcome()
        # One notification of a large group is one request, whatever the count of events it makes.
        # Its ids are derived by ingest, and a repeat of an alert may differ beyond what they are
        # derived from (an annotation with the current value, the group's earliest startsAt): the
        # first content of an id wins, as for every repeat of a notification.
        return await self.accept(events, sender, limit=None, refuse_conflicts=False)

    async def accept(
        self, body: Any, sender: Sender, limit: int | None = MAX_BATCH, *, refuse_conflicts: bool = True
    ) -> IngestOutcome | Problem:
        """Accept events (every route's way in), counted: ``majorops_events_total`` by outcome, or
        ``majorops_requests_rejected_total`` by the problem's slug."""
        if self.publisher is None:
            return self.refused(unavailable("not connected to NATS yet"), sender)
        try:
            result = await accept_events(
                body,
                self.publisher,
                self.extra_types,
                limit,
                sender=sender.name,
                sender_type=sender.kind,
                refuse_conflicts=refuse_conflicts,
            )
        except PublishFailed as exc:
            self.writes.failed(str(exc))
            result = unavailable(str(exc))
        if isinstance(result, Problem):
            return self.refused(result, sender)
        if result.accepted:
            self.writes.succeeded()
        self.telemetry.count_events(
            "nats" if sender is NATS_SENDER else "http", result.accepted, result.duplicates
        )
        return result

    async def ready(self) -> dict[str, bool]:
        """Each readiness check by name: NATS connected, the events stream present, JetStream
        accepting writes (no publish failed lately, see :mod:`majorops.ingest.write_health`)."""
        if self.publisher is None or not self.broker.connection.is_connected:
            return {"nats": False, "streams": False, "writes": False}
        streams = await streams_present(self.broker.connection.jetstream(), [subjects.EVENTS_STREAM])
        return {"nats": True, "streams": streams, "writes": self.writes.accepting()}


def create_app(settings: IngestSettings | None = None, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
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
        docs_url=None,  # no Swagger UI, no ReDoc: why in SECURITY.md
        redoc_url=None,
    )
    app.state.runtime = runtime
    describe = app.openapi

    def openapi() -> dict[str, Any]:
        return declare_bearer(describe(), BEARER_DESCRIPTION)

    app.openapi = openapi  # type: ignore[method-assign]

    responses = add_event_routes(app, runtime)
    add_mapping_route(app, runtime, runtime.settings.webhook_mappings, responses)
    add_probe_routes(app, runtime.ready, runtime.writes)
    app.add_middleware(
        TokenGate,
        tokens=[(token, Role.WRITE) for token in runtime.settings.tokens],
        realm=REALM,
        routes=lambda: app.router.routes,
        body_limit=body_limit,
        signatures=clock,
        refused=runtime.refused,
    )
    instrument_http(
        app, runtime.telemetry, runtime.broker, runtime.consumers
    )  # GET /metrics; HTTP metrics and spans
    return app
