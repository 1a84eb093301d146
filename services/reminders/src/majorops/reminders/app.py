"""Reminders: a FastStream NATS service that turns incident events and After Action decisions into
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
from collections.abc import Sequence
from typing import Any

import structlog
from faststream.nats import DeliverPolicy
from nats.aio.msg import Msg
from pydantic import ValidationError

from majorops.reminders.adapters.jetstream import (
    JetStreamNoticePublisher,
    JetStreamRecordFreshness,
    publish_dead_letter,
)
from majorops.reminders.adapters.mongo import MongoRemindersStore
from majorops.reminders.adapters.sqlite import SqliteRemindersStore
from majorops.reminders.adapters.webhooks import HttpxWebhookSender
from majorops.reminders.config import SERVICE, RemindersSettings, WebhookTarget
from majorops.reminders.handlers import EscalationPolicy, describe, record_decision, record_events
from majorops.reminders.notifier import WebhookNotifier
from majorops.reminders.ports import RemindersStore
from majorops.reminders.scheduler import EscalationScheduler
from majorops.shared import subjects
from majorops.shared.batch_handlers import concurrently
from majorops.shared.consumer_runtime import ConsumerRuntime, subscribe_to_events
from majorops.shared.consumers import (
    DurableConsumer,
    add_consumer,
    connect_broker,
    start_broker,
    subscribe_durable,
)
from majorops.shared.escalations import Escalation
from majorops.shared.jetstream import DeadLetter, decode_json
from majorops.shared.lifecycle import stop_broker
from majorops.shared.nats_connection import make_broker
from majorops.shared.outcomes import PoisonMessage
from majorops.shared.telemetry import telemetry_of

NOTIFIER = "reminders-notifier"
NOTIFIER_WORKERS = 8
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
        self.notifier_consumer: DurableConsumer | None = None
        subscribe_to_events(self.broker, SERVICE, settings, self.on_events)
        subscribe_durable(
            self.broker,
            service=SERVICE,
            stream=subjects.DECISIONS_STREAM,
            subject=subjects.ALL_DECISIONS,
            settings=settings,
            handle=self.on_decision,
        )
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
            self._subscribe_notifier()

    async def on_events(self, batch: Sequence[tuple[Any, int]]) -> list[BaseException | None]:
        """``majorops.events.>``: record a batch of ``(envelope, arrival)``; their incidents'
        obligations are planned again."""
        outcomes = await record_events(batch, self.store, self.extra_types)
        if self.scheduler is not None:
            self.scheduler.rearm()
        return outcomes

    async def on_decision(self, raw: Msg) -> None:
        """``majorops.decisions.>``: keep the incident's newest After Action decision."""
        await record_decision(decode_json(raw), self.store)
        if self.scheduler is not None:
            self.scheduler.rearm()

    def _subscribe_notifier(self) -> None:
        self.notifier_consumer = add_consumer(
            self.broker,
            DurableConsumer(
                service=SERVICE,
                stream=subjects.ESCALATIONS_STREAM,
                subject=subjects.ALL_ESCALATIONS,
                settings=self.settings,
                # Several at once: one webhook retrying with back-off must not hold up the others.
                handle_batch=concurrently(self.on_escalation),
                batch_size=NOTIFIER_WORKERS,
                durable=subjects.durable_name(NOTIFIER, subjects.ESCALATIONS_STREAM),
                # Only escalations from the moment webhooks are first configured: turning them on must
                # not POST the whole history. Afterwards the durable resumes where it stopped.
                deliver_policy=DeliverPolicy.NEW,
            ),
        )

    async def on_escalation(self, raw: Msg) -> None:
        """``majorops.escalations.>`` (notifier): POST the escalation to every configured webhook.

        An unreadable escalation is poison; a failure to store an outcome or publish a webhook's dead
        letter raises, and the escalation is delivered again later (see
        :mod:`majorops.shared.consumers`).
        """
        notifier = self.notifier
        if notifier is None:  # pragma: no cover - subscribed only with a notifier
            return
        try:
            escalation = Escalation.model_validate_json(raw.data)
        except ValidationError as exc:
            raise PoisonMessage(f"invalid escalation: {describe(exc)}") from exc
        js = self.broker.connection.jetstream()

        async def dead_letter(target: WebhookTarget, reason: str) -> None:
            letter = _letter(raw, reason)
            await publish_dead_letter(
                js, letter, f"dl:{SERVICE}:webhook:{escalation.escalation_id}:{target.key}", self.telemetry
            )

        async def keep_alive() -> None:
            # A webhook retried with back-off keeps the notifier's turn going: still alive.
            if self.notifier_consumer is not None:
                self.notifier_consumer.heartbeat.beat()
            await raw.in_progress()

        with structlog.contextvars.bound_contextvars(incident_id=escalation.incident_id):
            await notifier.deliver(escalation, raw.data, dead_letter, keep_alive=keep_alive)

    async def start(self) -> None:
        """Open the store, connect, start consuming, then the scheduler (the store must be ready first)."""
        await self.store.open()
        connection = await connect_broker(self.broker, stream_replicas=self.settings.stream_replicas)
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
        await start_broker(self.broker)
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
            await stop_broker(self.broker)
            if self.webhooks is not None:
                await self.webhooks.close()
        finally:
            await self.store.close()
        log.info("reminders.stopped")

    def probe_address(self) -> tuple[str, int]:
        return self.settings.reminders_http_host, self.settings.reminders_http_port


def _letter(raw: Msg, reason: str) -> DeadLetter:
    meta = raw.metadata
    return DeadLetter(
        service=SERVICE,
        reason=reason,
        subject=raw.subject,
        stream=meta.stream,
        stream_sequence=meta.sequence.stream if meta.sequence else None,
        num_delivered=meta.num_delivered,
        payload=raw.data.decode("utf-8", errors="replace"),
        headers=dict(raw.headers or {}),
    )
