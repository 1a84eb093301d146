"""Reminders' composition root: settings → the store, the publishers, the webhook sender and notifier →
the consumers (:mod:`majorops.reminders.entrypoints.consumers`) and the scheduler → the runtime.

Reminders turns incident events and After Action decisions into
escalations (``majorops.escalations.<incident>.<kind>``) and heads-up reminders
(``majorops.reminders.<incident>.<deadline>``), each published exactly once.

Two durable pull consumers (``reminders-events``, ``reminders-decisions``), each shared by every
replica, so each message is handled by one of them; the store is idempotent (events by id,
decisions by highest revision), so a redelivery changes nothing. Every message marks its incident
changed and wakes the scheduler (:mod:`majorops.reminders.scheduler`), which every replica runs.
With webhooks configured, a third durable consumer (``reminders-notifier-escalations``) POSTs each
escalation to them (:mod:`majorops.reminders.notifier`).
"""

from __future__ import annotations

import os
import socket

import structlog

from majorops.reminders.adapters.jetstream import (
    JetStreamNoticePublisher,
    JetStreamRecordFreshness,
    publish_dead_letter,
)
from majorops.reminders.adapters.mongo import MongoRemindersStore
from majorops.reminders.adapters.sqlite import SqliteRemindersStore
from majorops.reminders.adapters.webhooks import HttpxWebhookSender
from majorops.reminders.config import SERVICE, RemindersSettings
from majorops.reminders.entrypoints.consumers import consumers
from majorops.reminders.handlers import EscalationPolicy
from majorops.reminders.notifier import WebhookNotifier
from majorops.reminders.ports import RemindersStore
from majorops.reminders.scheduler import EscalationScheduler
from majorops.shared.connecting import connect_broker, start_consumers
from majorops.shared.consumer_runtime import ConsumerRuntime
from majorops.shared.jetstream import DeadLetter
from majorops.shared.lifecycle import stop_broker
from majorops.shared.nats_connection import make_broker
from majorops.shared.telemetry import telemetry_of

log = structlog.get_logger(__name__)


def store_from_settings(settings: RemindersSettings) -> RemindersStore:
    """MongoDB when ``MAJOROPS_MONGODB_URL`` is set, else the embedded SQLite file in the data dir."""
    if settings.mongodb_url:
        return MongoRemindersStore(settings.mongodb_url, f"{settings.mongodb_database}_{SERVICE}")
    return SqliteRemindersStore(settings.sqlite_path(SERVICE))


def policy_from_settings(settings: RemindersSettings) -> EscalationPolicy:
    return EscalationPolicy(interval=settings.escalation_interval, timezone=settings.zone)


class RemindersRuntime(ConsumerRuntime):
    """The clients of one reminders process: created here, connected in :meth:`start` (never at import)."""

    service = SERVICE
    store: RemindersStore

    def __init__(self, settings: RemindersSettings, store: RemindersStore | None = None) -> None:
        self.settings = settings
        self.extra_types = settings.extra_types
        self.replica = settings.replica or f"{socket.gethostname()}:{os.getpid()}"
        self.policy = policy_from_settings(settings)
        self.broker = make_broker(settings, SERVICE)
        self.telemetry = telemetry_of(self.broker)
        self.store = self.telemetry.timed_store(store if store is not None else store_from_settings(settings))
        self.scheduler: EscalationScheduler | None = None
        self.webhooks: HttpxWebhookSender | None = None
        self.notifier: WebhookNotifier | None = None
        targets = settings.webhook_targets
        if targets:
            self.webhooks = HttpxWebhookSender(settings.webhook_timeout_seconds)
            self.notifier = WebhookNotifier(
                targets,
                self.store,
                self.webhooks,
                attempts=settings.webhook_attempts,
                retry_seconds=settings.webhook_retry_seconds,
                secrets=settings.webhook_secrets,
            )
        self.consumers = consumers(settings, self.store, self.rearm, self.notifier, self.publish_letter)

    def rearm(self) -> None:
        """A message was stored: its incident's obligations are planned again."""
        if self.scheduler is not None:
            self.scheduler.rearm()

    async def publish_letter(self, letter: DeadLetter, msg_id: str) -> None:
        """A webhook's dead letter, on the broker's own connection."""
        await publish_dead_letter(self.broker.connection.jetstream(), letter, msg_id, self.telemetry)

    async def start(self) -> None:
        """Open the store, connect, start consuming, then the scheduler (the store must be ready first)."""
        await self.store.open()
        connection = await connect_broker(
            self.broker, self.consumers, stream_replicas=self.settings.stream_replicas
        )
        js = connection.jetstream()
        self.scheduler = EscalationScheduler(
            self.store,
            JetStreamNoticePublisher(js, self.telemetry),
            JetStreamRecordFreshness(js, SERVICE),
            self.policy,
            replica=self.replica,
            max_sleep_seconds=self.settings.scheduler_max_sleep_seconds,
            batch_size=self.settings.scheduler_batch_size,
            outbox_recheck_seconds=self.settings.outbox_recheck_seconds,
        )
        self.telemetry.heartbeats.add(self.scheduler.heartbeat)
        await start_consumers(self.broker, self.consumers)
        await self.scheduler.start()
        log.info(
            "reminders.started",
            nats_url=self.settings.nats_url,
            escalation_interval_s=self.policy.interval.total_seconds(),
            webhooks=[t.shown for t in self.settings.webhook_targets],
        )

    async def stop(self) -> None:
        """Stop the scheduler, finish the messages in hand, drain the connection, then close the store."""
        try:
            if self.scheduler is not None:
                await self.scheduler.stop()
            await stop_broker(self.broker, self.consumers)
            if self.webhooks is not None:
                await self.webhooks.close()
        finally:
            await self.store.close()
        log.info("reminders.stopped")

    def probe_address(self) -> tuple[str, int]:
        return self.settings.reminders_http_host, self.settings.reminders_http_port
