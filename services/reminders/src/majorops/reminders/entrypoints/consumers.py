"""Reminders' consumers, thin: decode, call a handler, wake the scheduler.

- ``reminders-events`` (``majorops.events.>``), in batches: :func:`~majorops.reminders.handlers.record_events`;
- ``reminders-decisions`` (``majorops.decisions.>``): :func:`~majorops.reminders.handlers.record_decision`;
- with webhooks configured, ``reminders-notifier-escalations`` (``majorops.escalations.>``): each
  escalation POSTed to them (:class:`~majorops.reminders.notifier.WebhookNotifier`), several at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from faststream.nats import DeliverPolicy
from nats.aio.msg import Msg
from pydantic import ValidationError

from majorops.reminders.config import SERVICE, RemindersSettings, WebhookTarget
from majorops.reminders.handlers import describe, record_decision, record_events
from majorops.reminders.notifier import WebhookNotifier
from majorops.reminders.ports import RemindersStore
from majorops.shared import subjects
from majorops.shared.batch_handlers import concurrently, decoding_json, one_at_a_time
from majorops.shared.connecting import events_consumer
from majorops.shared.consumers import DurableConsumer
from majorops.shared.escalations import Escalation
from majorops.shared.jetstream import DeadLetter, decode_json
from majorops.shared.outcomes import PoisonMessage

NOTIFIER = "reminders-notifier"
NOTIFIER_WORKERS = 8

PublishLetter = Callable[[DeadLetter, str], Awaitable[None]]
"""Publish a webhook's dead letter under a message id (JetStream, in the composition root)."""


def consumers(
    settings: RemindersSettings,
    store: RemindersStore,
    rearm: Callable[[], None],
    notifier: WebhookNotifier | None = None,
    publish_letter: PublishLetter | None = None,
) -> list[DurableConsumer]:
    """Reminders' durable consumers; ``rearm`` wakes the scheduler after each stored message."""

    async def on_events(batch: Sequence[tuple[Any, int]]) -> list[BaseException | None]:
        """Record a batch of ``(envelope, arrival)``; their incidents' obligations are planned again."""
        outcomes = await record_events(batch, store, settings.extra_types)
        rearm()
        return outcomes

    async def on_decision(raw: Msg) -> None:
        """Keep the incident's newest After Action decision."""
        await record_decision(decode_json(raw), store)
        rearm()

    found = [
        events_consumer(SERVICE, settings, decoding_json(on_events)),
        DurableConsumer(
            service=SERVICE,
            stream=subjects.DECISIONS_STREAM,
            subject=subjects.ALL_DECISIONS,
            settings=settings,
            handle_batch=one_at_a_time(on_decision),
        ),
    ]
    if notifier is not None and publish_letter is not None:
        found.append(notifier_consumer(settings, notifier, publish_letter))
    return found


def notifier_consumer(
    settings: RemindersSettings, notifier: WebhookNotifier, publish_letter: PublishLetter
) -> DurableConsumer:
    """``majorops.escalations.>`` (notifier): POST each escalation to every configured webhook.

    An unreadable escalation is poison; a failure to store an outcome or publish a webhook's dead
    letter raises, and the escalation is delivered again later (see :mod:`majorops.shared.consumers`).
    """

    async def on_escalation(raw: Msg) -> None:
        try:
            escalation = Escalation.model_validate_json(raw.data)
        except ValidationError as exc:
            raise PoisonMessage(f"invalid escalation: {describe(exc)}") from exc

        async def dead_letter(target: WebhookTarget, reason: str) -> None:
            await publish_letter(
                _letter(raw, reason), f"dl:{SERVICE}:webhook:{escalation.escalation_id}:{target.key}"
            )

        async def keep_alive() -> None:
            # A webhook retried with back-off keeps the notifier's turn going: still alive.
            consumer.heartbeat.beat()
            await raw.in_progress()

        with structlog.contextvars.bound_contextvars(incident_id=escalation.incident_id):
            await notifier.deliver(escalation, raw.data, dead_letter, keep_alive=keep_alive)

    consumer = DurableConsumer(
        service=SERVICE,
        stream=subjects.ESCALATIONS_STREAM,
        subject=subjects.ALL_ESCALATIONS,
        settings=settings,
        # Several at once: one webhook retrying with back-off must not hold up the others.
        handle_batch=concurrently(on_escalation),
        batch_size=NOTIFIER_WORKERS,
        durable=subjects.durable_name(NOTIFIER, subjects.ESCALATIONS_STREAM),
        # Only escalations from the moment webhooks are first configured: turning them on must
        # not POST the whole history. Afterwards the durable resumes where it stopped.
        deliver_policy=DeliverPolicy.NEW,
    )
    return consumer


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
