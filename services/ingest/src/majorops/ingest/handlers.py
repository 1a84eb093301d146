"""Ingest use cases: accept a body of events, publish the new ones, answer what happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from majorops.ingest.domain.batch import (
    MAX_BATCH,
    IdConflict,
    IngestOutcome,
    conflicting_ids,
    content_digest,
    unique_events,
    validate_batch,
)
from majorops.ingest.ports import EventPublisher, IdsTaken
from majorops.shared.events import AUTH_API_KEY, AUTH_SERVICE_ACCOUNT
from majorops.shared.json_body import parse_json_body
from majorops.shared.problems import Problem

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a request, as each accepted event records it (CloudEvents ``authtype``/``authid``)."""

    name: str
    kind: str = AUTH_API_KEY


NATS_SENDER = Sender("nats", AUTH_SERVICE_ACCOUNT)
"""Requests on ``majorops.ingest``: NATS permissions decide who may send them (SECURITY.md)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class PublishFailed(Exception):
    """Some event could not be published; the caller should retry the whole request (it is idempotent)."""


def parse_body(raw: bytes) -> Any | Problem:
    """The body as strict JSON (:mod:`majorops.shared.json_body`), else its ``400`` problem."""
    return parse_json_body(raw)


async def accept_events(
    body: Any,
    publisher: EventPublisher,
    extra_types: frozenset[str] = frozenset(),
    limit: int | None = MAX_BATCH,
    *,
    sender: str,
    sender_type: str = AUTH_API_KEY,
    refuse_conflicts: bool = True,
) -> IngestOutcome | Problem:
    """Validate all, then publish each new event in order; duplicates (same id, same content) are
    counted, not republished. ``limit``: see :func:`~majorops.ingest.domain.batch.validate_batch`.
    Each event records who sent it (``authid``: the token's name, ``authtype``: ``sender_type``).

    With ``refuse_conflicts``, an id already used (earlier in the request, or by an event accepted
    before) with other content makes the request a ``409`` and nothing is published; without it (ids
    ingest derives itself, as from Alertmanager notifications), the first content of an id wins."""
    validated = validate_batch(body, extra_types, limit)
    if isinstance(validated, Problem):
        return validated
    digests = [content_digest(event) for event in validated]
    unique = unique_events(validated, digests)
    if refuse_conflicts and unique.conflicts:
        return _refused(unique.conflicts, sender)
    outcome = IngestOutcome(duplicates=unique.repeats + len(unique.conflicts))
    positions = unique.positions
    batch = [validated[i].written_by(sender_type, sender) for i in positions]
    try:
        new_flags = await publisher.publish_new(
            batch, [digests[i] for i in positions], refuse_conflicts=refuse_conflicts
        )
    except IdsTaken as taken:
        return _refused([IdConflict(positions[p], batch[p].id) for p in taken.positions], sender)
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
            sender=sender,
        )
    return outcome


def _refused(conflicts: list[IdConflict], sender: str) -> Problem:
    """A ``409``, logged: an id reused with other content is a mistake or a forgery to look into."""
    log.warning("ingest.id_conflict", event_ids=[c.event_id for c in conflicts], sender=sender)
    return conflicting_ids(conflicts)


def unavailable(reason: str) -> Problem:
    return Problem(
        503,
        "Events not durably accepted",
        "JetStream did not acknowledge every event of this request; events before the failure may be "
        f"stored. Retry the whole request: event ids make it safe. ({reason})",
        "not-acknowledged",
    )
