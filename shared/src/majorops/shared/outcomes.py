"""How a handler answers for each message it was given, without the broker in sight.

Per message: ``None`` (done, acknowledged), a :class:`PoisonMessage` (it can never be processed:
dead-lettered at once) or any other exception (retried); an :class:`UnacknowledgedPublish` is
JetStream not confirming what the handler published, which the consumer treats as an outage and
retries in place (:func:`~majorops.shared.outages.storage_unavailable`). With the two helpers every
event consumer uses: :func:`valid_events` (the batch's envelopes validated, the invalid ones
poison) and :func:`log_recorded`. Handlers import this, never the NATS modules that deliver the
messages (an import-linter contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from majorops.shared.events import CloudEvent, EventValidationError, validate_event


class PoisonMessage(Exception):
    """A message that can never be processed (invalid payload, unknown type). Dead-lettered at once."""


class UnacknowledgedPublish(RuntimeError):
    """JetStream did not confirm a publish: the caller must treat the message as not sent."""


def log_recorded(logger: Any, event: CloudEvent, arrival: int, new: bool) -> None:
    """Log one consumed event as stored (``event.recorded``) or already held (``event.duplicate``,
    a redelivery or a republication), with the ids a reader of the logs looks it up by."""
    logger.info(
        "event.recorded" if new else "event.duplicate",
        incident_id=event.incident_id,
        event_id=event.id,
        type=event.type,
        arrival=arrival,
    )


def valid_events(
    messages: Sequence[tuple[Any, int]], extra_types: frozenset[str] = frozenset()
) -> tuple[list[BaseException | None], list[tuple[int, CloudEvent]]]:
    """Validate a batch of ``(envelope, arrival)``: the outcomes so far (a :class:`PoisonMessage`
    for each invalid envelope, ``None`` elsewhere) and the valid events with their index."""
    outcomes: list[BaseException | None] = [None] * len(messages)
    valid: list[tuple[int, CloudEvent]] = []
    for index, (envelope, _arrival) in enumerate(messages):
        try:
            valid.append((index, validate_event(envelope, extra_types)))
        except EventValidationError as exc:
            outcomes[index] = PoisonMessage(f"invalid event envelope: {exc}")
    return outcomes, valid
