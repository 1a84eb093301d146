"""Reports' composition root: settings → the store and the publisher → the handlers' ports → the
runtime (the broker, the durable consumers of :mod:`majorops.reports.entrypoints.consumers`, the
assembler task) → the FastAPI app with the routes of :mod:`majorops.reports.entrypoints` (tokens,
strict JSON bodies, telemetry, the problem answers, the OpenAPI document).

Reports consumes the events, decisions and escalations streams and serves Learning Reviews over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from majorops.reports.adapters.jetstream import JetStreamEventPublisher
from majorops.reports.adapters.mongo import MongoReviewStore
from majorops.reports.adapters.sqlite import SqliteReviewStore
from majorops.reports.config import SERVICE, ReportsSettings
from majorops.reports.entrypoints import action_items, probes, reviews
from majorops.reports.entrypoints.consumers import consumers
from majorops.reports.entrypoints.json_body_guard import JsonBodyGuard
from majorops.reports.entrypoints.openapi import document_as_answered
from majorops.reports.entrypoints.responses import answer_with_problems
from majorops.reports.entrypoints.workbench import workbench_router
from majorops.reports.handlers.materialise import assemble_stale
from majorops.reports.ports import Clock, ReportsPorts, ReviewStore, StoreNotOpen, utc_now
from majorops.shared import subjects
from majorops.shared.access import TokenGate
from majorops.shared.connecting import connect_broker, start_consumers
from majorops.shared.heartbeat import Heartbeat
from majorops.shared.http_telemetry import instrument_http
from majorops.shared.jetstream import streams_present
from majorops.shared.lifecycle import stop_broker
from majorops.shared.nats_connection import make_broker
from majorops.shared.telemetry import telemetry_of

REALM = "majorops-reports"
DESCRIPTION = (
    "Learning Reviews assembled from incident events, After Action decisions and escalations: "
    "read, listed, edited (ETag/If-Match), action items tracked, published. Errors are RFC 9457 "
    "problem documents (application/problem+json)."
)
MAX_ASSEMBLY_BACKOFF_SECONDS = 5.0
"""The longest the assembler waits for a burst to settle because its last round was slow."""
READY_NATS_TIMEOUT_SECONDS = 0.5
CONSUMED_STREAMS = (subjects.EVENTS_STREAM, subjects.DECISIONS_STREAM, subjects.ESCALATIONS_STREAM)
ASSEMBLY_BATCH = 50
ASSEMBLER_STOP_SECONDS = 30.0
"""How long a stop waits for the assembly round in progress before cancelling it."""

log = structlog.get_logger(__name__)


async def open_store(settings: ReportsSettings) -> ReviewStore:
    """MongoDB when ``MAJOROPS_MONGODB_URL`` is set, else the embedded SQLite file in the data dir."""
    if settings.mongodb_url:
        return await MongoReviewStore.open(settings.mongodb_url, settings.mongodb_reports_database)
    return await SqliteReviewStore.open(settings.sqlite_path(SERVICE))


class ReportsRuntime:
    """The clients of one reports process, created in the lifespan (never at import)."""

    def __init__(self, settings: ReportsSettings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.timezone = settings.zone
        self.extra_types = settings.extra_types
        self.broker = make_broker(settings, SERVICE)
        self.telemetry = telemetry_of(self.broker)
        self.store: ReviewStore | None = None
        self.ports: ReportsPorts | None = None
        self._wake = asyncio.Event()
        self._assembler: asyncio.Task[None] | None = None
        self._stopping = False
        # A round waits for a wake-up (at most the poll period), lets a burst land, then assembles.
        self.assembler_beat = self.telemetry.heartbeats.add(
            Heartbeat.of_loop(
                "reports assembler",
                settings.assemble_poll_seconds
                + settings.assemble_delay_seconds
                + MAX_ASSEMBLY_BACKOFF_SECONDS,
            )
        )
        self.consumers = consumers(settings, self.open_ports, self._wake.set)

    async def start(self) -> None:
        # The store first: the subscribers write to it from their first message on.
        self.store = self.telemetry.timed_store(await open_store(self.settings))
        try:
            connection = await connect_broker(
                self.broker, self.consumers, stream_replicas=self.settings.stream_replicas
            )
            self.ports = ReportsPorts(
                store=self.store,
                publisher=JetStreamEventPublisher(connection.jetstream()),
                clock=self.clock,
                timezone=self.timezone,
                extra_types=self.extra_types,
            )
            await start_consumers(self.broker, self.consumers)
        except BaseException:
            await self.stop()
            raise
        self._stopping = False
        self._assembler = self.assembler_beat.watch(
            asyncio.create_task(self._assemble_forever(), name="reports-assembler")
        )

    @asynccontextmanager
    async def lifespan(self, _: object) -> AsyncIterator[None]:
        """The app's lifespan: started before the first request is served, stopped after the last."""
        await self.start()
        log.info(
            "reports.started",
            nats_url=self.settings.nats_url,
            store="mongodb" if self.settings.mongodb_url else "sqlite",
        )
        try:
            yield
        finally:
            await self.stop()

    async def stop(self) -> None:
        if self._assembler is not None:
            # Asked to stop, not cancelled: a cancellation landing as a wake-up completes can be lost
            # inside ``asyncio.wait_for`` (Python < 3.12), and the stop would then wait forever. The
            # round in progress finishes; one that hangs is cancelled after a while.
            task, self._assembler = self._assembler, None
            self.assembler_beat.unwatch()
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), ASSEMBLER_STOP_SECONDS)
            except TimeoutError:
                log.warning("reports.assembler_stop_timeout")
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await stop_broker(self.broker, self.consumers)
        self.ports = None
        if self.store is not None:
            store, self.store = self.store, None
            await store.close()

    def open_ports(self) -> ReportsPorts:
        if self.ports is None:
            raise StoreNotOpen("the reports store is not open")
        return self.ports

    async def _assemble_forever(self) -> None:
        """Re-assemble the reviews marked changed: on a wake-up after a burst, and every poll period
        (changes marked by other replicas, or an assembly that failed)."""
        loop = asyncio.get_running_loop()
        last_round = 0.0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.assemble_poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            # Coalesce: wait at least as long as the last round took, so that under a stream of
            # events into big incidents re-assembling takes at most about half of the time and a
            # burst costs one assembly, while an idle system still reacts in the short delay.
            await asyncio.sleep(max(self.settings.assemble_delay_seconds, last_round))
            began = loop.time()
            try:
                if await assemble_stale(self.open_ports(), ASSEMBLY_BATCH) >= ASSEMBLY_BATCH:
                    self._wake.set()  # more are waiting
                self.assembler_beat.beat()
            except Exception as exc:
                log.warning("reports.assembler_failed", error=str(exc))
            last_round = min(loop.time() - began, MAX_ASSEMBLY_BACKOFF_SECONDS)

    async def ready(self) -> dict[str, bool]:
        """Each readiness check by name: NATS connected, the consumed streams present, every durable
        consumer bound, no loop stalled (consumers, assembler), the store answering."""
        nats_ok = await self.broker.ping(timeout=READY_NATS_TIMEOUT_SECONDS)
        streams_ok = nats_ok and await streams_present(self.broker.connection.jetstream(), CONSUMED_STREAMS)
        durables_ok = bool(self.consumers) and all(consumer.bound for consumer in self.consumers)
        try:
            store_ok = self.store is not None and await self.store.ping()
        except Exception as exc:
            log.warning("reports.store_unavailable", error=str(exc))
            store_ok = False
        loops_ok = not self.telemetry.heartbeats.problems()
        return {
            "nats": nats_ok,
            "streams": streams_ok,
            "durables": durables_ok,
            "loops": loops_ok,
            "store": store_ok,
        }


def create_app(settings: ReportsSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The reports service: ``clock`` is injectable so that tests decide what "now" (overdue) is."""
    runtime = ReportsRuntime(settings or ReportsSettings(), clock)
    app = FastAPI(
        title="MajorOps After Action — reports",
        version="1",
        description=DESCRIPTION,
        lifespan=runtime.lifespan,
        docs_url=None,  # no Swagger UI, no ReDoc: why in SECURITY.md
        redoc_url=None,
    )
    app.state.runtime = runtime
    # Added first, so it runs inside the token gate: only a valid token makes reports read a body.
    app.add_middleware(JsonBodyGuard)
    app.add_middleware(TokenGate, tokens=runtime.settings.tokens, realm=REALM)
    answer_with_problems(app)
    document_as_answered(app)
    app.include_router(reviews.router)
    app.include_router(action_items.router)
    app.include_router(probes.router)
    app.include_router(workbench_router())
    instrument_http(
        app, runtime.telemetry, runtime.broker, runtime.consumers
    )  # GET /metrics; HTTP metrics and spans
    return app
