"""Policy's composition root: settings → the store and the decision publisher → the handlers' ports →
the runtime that connects, consumes (:mod:`majorops.policy.entrypoints.consumers`) and sweeps.

Policy turns every incident event into the incident's decision.

One durable pull consumer (``policy-events``) is shared by every replica, so each event is handled
by one of them; the store is idempotent by event id, so a redelivery changes nothing. Decisions go
to ``majorops.decisions.<incident_id>`` on JetStream, one message per revision (see
:mod:`majorops.policy.handlers` for how replicas and crashes keep that true).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from majorops.policy.adapters.jetstream import JetStreamDecisionPublisher
from majorops.policy.adapters.mongo import MongoPolicyStore
from majorops.policy.adapters.sqlite import SqlitePolicyStore
from majorops.policy.config import SERVICE, PolicySettings
from majorops.policy.entrypoints.consumers import consumers
from majorops.policy.handlers import PolicyPorts, publish_pending_decisions
from majorops.policy.ports import DecisionPublisher, PolicyStore
from majorops.shared.connecting import connect_broker, start_consumers
from majorops.shared.consumer_runtime import ConsumerRuntime
from majorops.shared.heartbeat import Heartbeat
from majorops.shared.lifecycle import stop_broker
from majorops.shared.nats_connection import make_broker
from majorops.shared.telemetry import telemetry_of

log = structlog.get_logger(__name__)


def store_from_settings(settings: PolicySettings) -> PolicyStore:
    """MongoDB when ``MAJOROPS_MONGODB_URL`` is set, else the embedded SQLite file in the data dir."""
    if settings.mongodb_url:
        return MongoPolicyStore(settings.mongodb_url, f"{settings.mongodb_database}_{SERVICE}")
    return SqlitePolicyStore(settings.sqlite_path(SERVICE))


class PolicyRuntime(ConsumerRuntime):
    """The clients of one policy process: created here, connected in :meth:`start` (never at import)."""

    service = SERVICE
    store: PolicyStore

    def __init__(
        self,
        settings: PolicySettings,
        store: PolicyStore | None = None,
        publisher: DecisionPublisher | None = None,
    ) -> None:
        self.settings = settings
        self.extra_types = settings.extra_types
        self.calendar = settings.business_calendar()
        self.broker = make_broker(settings, SERVICE)
        self.telemetry = telemetry_of(self.broker)
        self.store = self.telemetry.timed_store(store if store is not None else store_from_settings(settings))
        # None: JetStream on the broker's own connection, created once connected.
        self._publisher = publisher
        self._ports: PolicyPorts | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.sweeper_beat = self.telemetry.heartbeats.add(
            Heartbeat.of_loop("policy decision sweeper", settings.decision_sweep_seconds)
        )
        self.consumers = consumers(settings, lambda: self.ports)

    @property
    def ports(self) -> PolicyPorts:
        """The handlers' ports; they exist once :meth:`start` connected."""
        if self._ports is None:
            raise RuntimeError("policy runtime is not started")
        return self._ports

    async def start(self) -> None:
        """Open the store, connect, publish what a crash left unpublished, then start consuming."""
        await self.store.open()
        connection = await connect_broker(
            self.broker, self.consumers, stream_replicas=self.settings.stream_replicas
        )
        publisher = self._publisher or JetStreamDecisionPublisher(connection.jetstream(), self.telemetry)
        self._ports = PolicyPorts.of(
            self.store, publisher, self.calendar, self.settings.facts_cache_incidents
        )
        await self.sweep("start")
        await start_consumers(self.broker, self.consumers)
        self._sweeper = self.sweeper_beat.watch(asyncio.create_task(self._sweep_periodically()))
        log.info(
            "policy.started",
            nats_url=self.settings.nats_url,
            timezone=self.calendar.timezone,
            holidays=self.calendar.holidays,
        )

    async def sweep(self, when: str) -> int:
        """Publish every decision revision stored but not published; failures are logged, not raised.

        Most are published by the next handling of their incident; the sweep covers incidents that
        get no further event (e.g. after their last event was dead-lettered during an outage).
        """
        try:
            sent = await publish_pending_decisions(self.ports)
        except Exception as exc:
            log.warning("decisions.sweep_failed", when=when, error=f"{type(exc).__name__}: {exc}")
            return 0
        if sent:
            log.info("decisions.swept", when=when, published=sent)
        return sent

    async def _sweep_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.decision_sweep_seconds)
            await self.sweep("periodic")
            self.sweeper_beat.beat()

    async def stop(self) -> None:
        """Stop sweeping, finish the messages in hand, drain the connection, then close the store."""
        if self._sweeper is not None:
            self.sweeper_beat.unwatch()
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        try:
            await stop_broker(self.broker, self.consumers)
        finally:
            await self.store.close()
        log.info("policy.stopped")

    def probe_address(self) -> tuple[str, int]:
        return self.settings.policy_http_host, self.settings.policy_http_port
