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

import structlog
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, DeliverPolicy, JStream, PullSub
from faststream.nats.annotations import NatsMessage
from nats.aio.msg import Msg
from nats.js import JetStreamContext
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
from majorops.reminders.handlers import EscalationPolicy, describe, record_decision, record_event
from majorops.reminders.notifier import WebhookNotifier
from majorops.reminders.ports import RemindersStore
from majorops.reminders.scheduler import EscalationScheduler
from majorops.shared import subjects
from majorops.shared.escalations import Escalation
from majorops.shared.jetstream import (
    DeadLetter,
    UnacknowledgedPublish,
    arrival_sequence,
    connect_broker,
    decode_json,
    make_broker,
    raw_body,
    retry_delay,
    subscribe_durable,
)
from majorops.shared.lifecycle import run_until_signalled, stop_broker

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


class RemindersRuntime:
    """The clients of one reminders process: created here, connected in :meth:`start` (never at import)."""

    def __init__(self, settings: RemindersSettings, store: RemindersStore | None = None) -> None:
        self.settings = settings
        self.extra_types = settings.extra_types
        self.replica = settings.replica or f"{socket.gethostname()}:{os.getpid()}"
        self.policy = policy_from_settings(settings)
        self.store = store if store is not None else store_from_settings(settings)
        self.broker = make_broker(settings, SERVICE)
        self.scheduler: EscalationScheduler | None = None
        subscribe_durable(
            self.broker,
            service=SERVICE,
            stream=subjects.EVENTS_STREAM,
            subject=subjects.ALL_EVENTS,
            settings=settings,
            handle=self.on_event,
        )
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

    async def on_event(self, raw: Msg) -> None:
        """``majorops.events.>``: record the event; its incident's obligations are planned again."""
        await record_event(decode_json(raw), arrival_sequence(raw), self.store, self.extra_types)
        if self.scheduler is not None:
            self.scheduler.rearm()

    async def on_decision(self, raw: Msg) -> None:
        """``majorops.decisions.>``: keep the incident's newest After Action decision."""
        await record_decision(decode_json(raw), self.store)
        if self.scheduler is not None:
            self.scheduler.rearm()

    def _subscribe_notifier(self) -> None:
        durable = subjects.durable_name(NOTIFIER, subjects.ESCALATIONS_STREAM)
        consumer = ConsumerConfig(
            durable_name=durable,
            # Only escalations from the moment webhooks are first configured: turning them on must not
            # POST the whole history. Afterwards the durable resumes where it stopped.
            deliver_policy=DeliverPolicy.NEW,
            ack_wait=self.settings.ack_wait_seconds,
            max_deliver=self.settings.max_deliver,
            max_ack_pending=self.settings.max_ack_pending,
            filter_subject=subjects.ALL_ESCALATIONS,
        )
        self.broker.subscriber(
            subjects.ALL_ESCALATIONS,
            stream=JStream(subjects.ESCALATIONS_STREAM, declare=False),
            durable=durable,
            config=consumer,
            pull_sub=PullSub(batch_size=NOTIFIER_WORKERS, timeout=2.0),
            ack_policy=AckPolicy.MANUAL,
            decoder=raw_body,
            # Several at once: one webhook retrying with back-off must not hold up the others.
            max_workers=NOTIFIER_WORKERS,
            title=f"{NOTIFIER}:{subjects.ESCALATIONS_STREAM}",
        )(self.on_escalation)

    async def on_escalation(self, body: bytes, msg: NatsMessage) -> None:
        """``majorops.escalations.>`` (notifier): POST the escalation to every configured webhook."""
        raw: Msg = msg.raw_message
        js = self.broker.connection.jetstream()
        notifier = self.notifier
        if notifier is None:  # pragma: no cover - subscribed only with a notifier
            await msg.ack()
            return
        try:
            escalation = Escalation.model_validate_json(raw.data)
        except ValidationError as exc:
            await self._dead_letter_escalation(js, raw, msg, f"poison: invalid escalation: {describe(exc)}")
            return

        async def dead_letter(target: WebhookTarget, reason: str) -> None:
            letter = _letter(raw, reason)
            await publish_dead_letter(
                js, letter, f"dl:{SERVICE}:webhook:{escalation.escalation_id}:{target.key}"
            )

        with structlog.contextvars.bound_contextvars(incident_id=escalation.incident_id):
            try:
                await notifier.deliver(escalation, raw.data, dead_letter, keep_alive=msg.in_progress)
            except Exception as exc:
                delivered = int(raw.metadata.num_delivered or 1)
                if delivered >= self.settings.max_deliver:
                    log.error(
                        "webhook.notify_failed_finally", escalation_id=escalation.escalation_id, exc_info=exc
                    )
                    await self._dead_letter_escalation(
                        js,
                        raw,
                        msg,
                        f"failed {delivered} deliveries, last error: {type(exc).__name__}: {exc}",
                    )
                else:
                    log.warning(
                        "webhook.notify_retry", escalation_id=escalation.escalation_id, error=str(exc)
                    )
                    await msg.nack(delay=retry_delay(self.settings, delivered))
                return
        await msg.ack()

    async def _dead_letter_escalation(
        self, js: JetStreamContext, raw: Msg, msg: NatsMessage, reason: str
    ) -> None:
        letter = _letter(raw, reason)
        try:
            await publish_dead_letter(js, letter, f"dl:{SERVICE}:{letter.stream}:{letter.stream_sequence}")
        except UnacknowledgedPublish:
            await msg.nack(delay=retry_delay(self.settings, 2))
            return
        await msg.reject()

    async def start(self) -> None:
        """Open the store, connect, start consuming, then the scheduler (the store must be ready first)."""
        await self.store.open()
        connection = await connect_broker(self.broker)
        js = connection.jetstream()
        self.scheduler = EscalationScheduler(
            self.store,
            JetStreamNoticePublisher(js),
            JetStreamRecordFreshness(js, SERVICE),
            self.policy,
            replica=self.replica,
            max_sleep_seconds=self.settings.scheduler_max_sleep_seconds,
            batch_size=self.settings.scheduler_batch_size,
            outbox_recheck_seconds=self.settings.outbox_recheck_seconds,
        )
        await self.broker.start()
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

    async def run(self) -> None:
        """Run until SIGTERM or SIGINT, then stop gracefully; a failed start ends with its error."""
        await run_until_signalled(SERVICE, self.start, self.stop)


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
