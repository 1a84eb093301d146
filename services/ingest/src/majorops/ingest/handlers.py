"""Ingest use cases: accept a body of events, publish the new ones, answer what happened."""

from __future__ import annotations

import json
from typing import Any

import structlog

from majorops.ingest.domain.batch import MAX_BATCH, IngestOutcome, not_json, validate_batch
from majorops.ingest.ports import EventPublisher
from majorops.shared.events import CloudEvent
from majorops.shared.problems import Problem

log = structlog.get_logger(__name__)


class PublishFailed(Exception):
    """Some event could not be published; the caller should retry the whole request (it is idempotent)."""


def parse_body(raw: bytes) -> Any | Problem:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return not_json(str(exc))


async def accept_events(
    body: Any,
    publisher: EventPublisher,
    extra_types: frozenset[str] = frozenset(),
    limit: int | None = MAX_BATCH,
) -> IngestOutcome | Problem:
    """Validate all, then publish each new event in order; duplicates (same id) are counted, not
    republished. ``limit``: see :func:`~majorops.ingest.domain.batch.validate_batch`."""
    events = validate_batch(body, extra_types, limit)
    if isinstance(events, Problem):
        return events
    outcome = IngestOutcome()
    unique: dict[str, CloudEvent] = {}
    for event in events:
        if event.id in unique:
            outcome.duplicates += 1
        else:
            unique[event.id] = event
    batch = list(unique.values())
    try:
        new_flags = await publisher.publish_new(batch)
    except Exception as exc:
        log.error("ingest.publish_failed", events=len(batch), error=str(exc))
        raise PublishFailed(str(exc)) from exc
    for event, new in zip(batch, new_flags, strict=True):
        if new:
            outcome.accepted += 1
        else:
            outcome.duplicates += 1
        log.info(
            "ingest.accepted" if new else "ingest.duplicate",
            event_id=event.id,
            incident_id=event.incident_id,
            type=event.type,
        )
    return outcome


def unavailable(reason: str) -> Problem:
    return Problem(
        503,
        "Events not durably accepted",
        "JetStream did not acknowledge every event of this request; events before the failure may be "
        f"stored. Retry the whole request: event ids make it safe. ({reason})",
        "not-acknowledged",
    )
