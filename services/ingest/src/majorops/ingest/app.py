"""Ingest: HTTP (FastAPI) and the NATS request subject, both publishing to JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from faststream.nats.annotations import NatsMessage

from majorops.ingest.adapters.jetstream import JetStreamEventPublisher
from majorops.ingest.config import IngestSettings
from majorops.ingest.domain.alertmanager import AmWebhook, webhook_to_events
from majorops.ingest.domain.batch import (
    MAX_ALERTMANAGER_BODY_BYTES,
    MAX_BATCH,
    MAX_BODY_BYTES,
    IngestOutcome,
    too_large,
)
from majorops.ingest.handlers import PublishFailed, accept_events, parse_body, unavailable
from majorops.ingest.webhook_routes import add_mapping_route
from majorops.ingest.write_health import WriteHealth, add_probe_routes
from majorops.shared import subjects
from majorops.shared.access import (
    Token,
    bearer_secret,
    declare_bearer,
    is_signed,
    problem_response,
    signer_of,
    token_named_by,
    unauthenticated,
)
from majorops.shared.consumers import connect_broker, start_broker
from majorops.shared.events import AUTH_API_KEY, AUTH_SERVICE_ACCOUNT, CloudEvent
from majorops.shared.http_telemetry import instrument_http
from majorops.shared.jetstream import streams_present
from majorops.shared.lifecycle import stop_broker
from majorops.shared.nats_connection import make_broker
from majorops.shared.problems import PROBLEM_SCHEMA, Problem
from majorops.shared.telemetry import telemetry_of
from majorops.shared.tracing import TRACER, incoming_context
from majorops.shared.webhook_signatures import SignatureError

SERVICE = "ingest"
REQUEST_WORKERS = 8
REALM = "majorops-ingest"
BEARER_DESCRIPTION = (
    "A secret of MAJOROPS_INGEST_TOKENS. Instead of it, a request may be signed the Standard Webhooks "
    "way with the secret as key: webhook-id, webhook-timestamp (Unix seconds, within 5 minutes) and "
    "webhook-signature: v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<body>'>"
)
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a request, as each accepted event records it (CloudEvents ``authtype``/``authid``)."""

    name: str
    kind: str = AUTH_API_KEY


def utc_now() -> datetime:
    return datetime.now(UTC)


NATS_SENDER = Sender("nats", AUTH_SERVICE_ACCOUNT)
"""Requests on ``majorops.ingest``: NATS permissions decide who may send them (SECURITY.md)."""


async def undecoded(message: Any) -> bytes:
    """The body of a ``majorops.ingest`` request as it came. FastStream would parse it as JSON
    before the handler (leniently, and raising without any answer on a deep nesting, or on a body
    its content-type header misnames); the handler parses it strictly, as HTTP bodies are."""
    return bytes(message.body)


class IngestRuntime:
    """The clients of one ingest process, created in the lifespan (never at import)."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.extra_types = settings.extra_types
        self.broker = make_broker(settings, SERVICE)
        self.telemetry = telemetry_of(self.broker)
        self.publisher: JetStreamEventPublisher | None = None
        self.writes = WriteHealth()
        # Requests are answered concurrently, as HTTP requests are (one at a time capped NATS ingest).
        self.broker.subscriber(
            subjects.INGEST_REQUEST,
            queue=subjects.INGEST_QUEUE_GROUP,
            max_workers=REQUEST_WORKERS,
            decoder=undecoded,
        )(self.on_request)

    async def start(self) -> None:
        connection = await connect_broker(self.broker, stream_replicas=self.settings.stream_replicas)
        self.publisher = await JetStreamEventPublisher.open(
            connection.jetstream(), self.settings.stream_replicas
        )
        await start_broker(self.broker)

    async def stop(self) -> None:
        await stop_broker(self.broker)

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

    async def on_request(self, msg: NatsMessage) -> dict[str, Any]:
        """``majorops.ingest``: the reply is the same JSON as the HTTP answer (in the trace of the
        request's ``traceparent``, when it has one)."""
        context = incoming_context(msg.headers)
        with TRACER.start_as_current_span(f"process {subjects.INGEST_REQUEST}", context=context):
            result = await self.ingest(msg.body, NATS_SENDER)
        return result.as_dict()

    async def ready(self) -> dict[str, bool]:
        """Each readiness check by name: NATS connected, the events stream present, JetStream
        accepting writes (no publish failed lately, see :mod:`majorops.ingest.write_health`)."""
        if self.publisher is None or not self.broker.connection.is_connected:
            return {"nats": False, "streams": False, "writes": False}
        streams = await streams_present(self.broker.connection.jetstream(), [subjects.EVENTS_STREAM])
        return {"nats": True, "streams": streams, "writes": self.writes.accepting()}


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


BodyLimit = tuple[int, str]
"""The most bytes a body may have, and what to do about a larger one (the 413's advice)."""
EVENTS_LIMIT: BodyLimit = (MAX_BODY_BYTES, "split the batch")
ALERTMANAGER_LIMIT: BodyLimit = (
    MAX_ALERTMANAGER_BODY_BYTES,
    "make Alertmanager's groups smaller (group_by) or cap their alerts (max_alerts)",
)


async def read_body(request: Request, limit: BodyLimit = EVENTS_LIMIT) -> bytes | Problem:
    """The body, refused with 413 as soon as it passes the limit (declared or streamed)."""
    most, advice = limit
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > most:
        return too_large(most, advice)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > most:
            return too_large(most, advice)
        chunks.append(chunk)
    return b"".join(chunks)


async def authenticated(
    request: Request, tokens: tuple[Token, ...], now: Callable[[], datetime], limit: BodyLimit = EVENTS_LIMIT
) -> tuple[Sender, bytes] | Problem:
    """The sender and the body of a request, or a 401 (or the body's own 413), counted as refused."""
    sent = await _sender_and_body(request, tokens, now, limit)
    runtime = getattr(request.app.state, "runtime", None)
    if isinstance(sent, Problem) and isinstance(runtime, IngestRuntime):
        runtime.refused(sent)
    return sent


async def _sender_and_body(
    request: Request, tokens: tuple[Token, ...], now: Callable[[], datetime], limit: BodyLimit
) -> tuple[Sender, bytes] | Problem:
    """The sender and the body of a request, or a 401 (or the body's own 413).

    A bearer token is checked before the body is read, so that nobody unknown makes ingest read a
    large body; a signed request needs its body to be checked.
    """
    headers = request.headers
    secret = bearer_secret(headers)
    if secret is not None:
        name = token_named_by(tokens, secret)
        if name is None:
            return unauthenticated(REALM)
        raw = await read_body(request, limit)
        return raw if isinstance(raw, Problem) else (Sender(name), raw)
    if is_signed(headers):
        raw = await read_body(request, limit)
        if isinstance(raw, Problem):
            return raw
        try:
            return Sender(signer_of(tokens, headers, raw, now())), raw
        except SignatureError as exc:
            return unauthenticated(REALM, f"The request's signature is not accepted: {exc}.")
    return unauthenticated(REALM)


def answer(result: IngestOutcome | Problem) -> JSONResponse:
    if isinstance(result, Problem):
        return problem_response(result)
    return JSONResponse(result.as_dict(), status_code=202)


def create_app(settings: IngestSettings | None = None, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    runtime = IngestRuntime(settings or IngestSettings())
    tokens = runtime.settings.tokens

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

    problem = {"application/problem+json": {"schema": PROBLEM_SCHEMA}}
    responses: dict[int | str, dict[str, Any]] = {
        202: {
            "description": "Accepted: counts of new and duplicate events",
            "content": {"application/json": {"schema": OUTCOME_SCHEMA}},
        },
        400: {
            "description": "Body is not strict JSON (not UTF-8, NaN/Infinity, a number beyond 64 bits, "
            "a duplicate key) or nests arrays and objects more than 64 levels deep",
            "content": problem,
        },
        401: {"description": "No valid token or signature; nothing was read", "content": problem},
        409: {
            "description": "An event reuses the id of an event with other content (accepted before, or "
            "earlier in the request); nothing was published",
            "content": problem,
        },
        413: {"description": "Body over 1 MiB", "content": problem},
        422: {"description": "Some event is invalid; nothing was published", "content": problem},
        503: {"description": "JetStream did not acknowledge; retry the request", "content": problem},
    }
    alertmanager_responses = {
        **{code: answer for code, answer in responses.items() if code != 409},
        413: {"description": "Body over 16 MiB", "content": problem},
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
        sent = await authenticated(request, tokens, clock)
        return answer(sent if isinstance(sent, Problem) else await runtime.ingest(sent[1], sent[0]))

    @app.post(
        "/v1/webhooks/alertmanager",
        status_code=202,
        responses=alertmanager_responses,
        openapi_extra=alertmanager_body,
    )
    async def post_alertmanager(request: Request) -> JSONResponse:
        """Prometheus Alertmanager webhook (payload version 4): each alert becomes alert.fired/resolved;
        a group's incident without an `incident_id` label (`AM-…`) also gets one incident.updated
        with the title and severity its alerts give (see docs/alertmanager.md). A notification is
        accepted whole up to 16 MiB, whatever the number of alerts of its group."""
        sent = await authenticated(request, tokens, clock, ALERTMANAGER_LIMIT)
        if isinstance(sent, Problem):
            return answer(sent)
        return answer(await runtime.ingest_alertmanager(sent[1], sent[0]))

    add_mapping_route(app, runtime, partial(authenticated, tokens=tokens, now=clock), responses)

    add_probe_routes(app, runtime.ready, runtime.writes)
    instrument_http(app, runtime.telemetry, runtime.broker)  # GET /metrics; HTTP metrics and spans
    return app
