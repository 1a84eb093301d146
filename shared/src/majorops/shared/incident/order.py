"""The one order of an incident's events, and how names are matched (see :mod:`majorops.shared.incident`).

Every "earliest", "latest" and "in order" of the read model is taken over :data:`EventKey`: the
event's ``time`` (in UTC), then its ``id``. Both are in every stored event, so every service,
replica and replay computes the same order; the stream sequence (arrival) is not (policy's and
reminders' stores number events as they store them, JetStream numbers them per stream, and a replay
or a second replica numbers them differently), so arrival never decides anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from majorops.shared.events import CloudEvent

EventKey = tuple[datetime, str]
"""The total order every tie is broken by: event time (UTC), then event id."""


def event_key(event: CloudEvent) -> EventKey:
    """Where the event stands in the record's total order."""
    return (event.occurred_at.astimezone(UTC), event.id)


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
    """The events sorted by :data:`EventKey` (event time, then event id)."""
    return sorted(events, key=event_key)


def vendor_key(name: str) -> str:
    """How two mentions of a vendor are matched: trimmed and case-insensitive ("Acme" = "acme ")."""
    return name.strip().casefold()


def role_key(role: str) -> str:
    """How role names are matched: trimmed and case-insensitive ("MIM" = " mim")."""
    return role.strip().casefold()
