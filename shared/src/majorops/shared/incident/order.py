"""The one order of an incident's events, and how names are matched (see :mod:`majorops.shared.incident`).

Every "earliest", "latest" and "in order" of the read model is taken over :data:`EventKey`: the
event's ``time`` (in UTC), then where its type stands in a thing's life (:data:`LIFE_RANK`: what
begins something comes before what changes it, which comes before what ends it), then its ``id``.
All three are in every stored event, so every service, replica and replay computes the same order;
the stream sequence (arrival) is not (policy's and reminders' stores number events as they store
them, JetStream numbers them per stream, and a replay or a second replica numbers them
differently), so arrival never decides anything.

Why the rank before the id: a writer whose clock has one-second (or coarser) steps — a ticketing
system, a test's frozen clock — stamps an action item's creation, its update and its completion
with one time. Ordered by id alone (random), the creation would come after the update half the time
and undo it; "a thing begins, then changes, then ends" is what every writer means.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from majorops.shared.events import CloudEvent, EventType

EventKey = tuple[datetime, int, str]
"""The total order every tie is broken by: event time (UTC), life rank, event id."""

BEGINS, CHANGES, ENDS, CLOSES = 0, 1, 2, 3
LIFE_RANK: Mapping[str, int] = {
    EventType.ALERT_FIRED: BEGINS,
    EventType.INCIDENT_DECLARED: BEGINS,
    EventType.TRACK_OPENED: BEGINS,
    EventType.VENDOR_ENGAGED: BEGINS,
    EventType.AFTERACTION_SCHEDULED: BEGINS,
    EventType.ACTIONITEM_CREATED: BEGINS,
    EventType.TRACK_CLOSED: ENDS,
    EventType.ACTIONITEM_COMPLETED: ENDS,
    EventType.INCIDENT_RESOLVED: ENDS,
    EventType.INCIDENT_CLOSED: CLOSES,
}
"""Where a type stands among events of one instant; every other type :data:`CHANGES`."""


def event_key(event: CloudEvent) -> EventKey:
    """Where the event stands in the record's total order."""
    return (event.occurred_at.astimezone(UTC), LIFE_RANK.get(event.type, CHANGES), event.id)


def distinct_events(incident_id: str, events: Iterable[CloudEvent]) -> list[CloudEvent]:
    """Each event of ``incident_id`` once, in the order given: the first occurrence of an id wins,
    as in the event log (the contract says the same id is the same event).

    Raises ``ValueError`` for an event of another incident: mixing incidents would silently corrupt
    both incidents' views.
    """
    seen: set[str] = set()
    out: list[CloudEvent] = []
    for event in events:
        check_incident(incident_id, event)
        if event.id not in seen:
            seen.add(event.id)
            out.append(event)
    return out


def check_incident(incident_id: str, event: CloudEvent) -> None:
    """Refuse (``ValueError``) an event of another incident."""
    if event.subject != incident_id:
        raise ValueError(f"event {event.id!r} belongs to incident {event.subject!r}, not {incident_id!r}")


def in_event_order(events: Iterable[CloudEvent]) -> list[CloudEvent]:
    """The events sorted by :data:`EventKey` (event time, life rank, event id)."""
    return sorted(events, key=event_key)


def vendor_key(name: str) -> str:
    """How two mentions of a vendor are matched: trimmed and case-insensitive ("Acme" = "acme ")."""
    return name.strip().casefold()


def role_key(role: str) -> str:
    """How role names are matched: trimmed and case-insensitive ("MIM" = " mim")."""
    return role.strip().casefold()
