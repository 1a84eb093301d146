"""Reading an incident's record: one typed reading of its events that every service folds its own view
from (policy its facts, reminders the record its obligations read, reports the Learning Review).

Every view reads the events the same way:

- the same ``id`` is the same event: it counts once (:func:`distinct_events`);
- each event's ``data`` is read through its type's model (:data:`~majorops.shared.events.EVENT_DATA_MODELS`),
  as a :class:`TypedEvent`;
- what a view does with each type is one row of a table keyed by event type (:class:`EventFold`), not
  a branch of a hand-written chain: a new event type is a model in :mod:`majorops.shared.events`
  and, in each view that reads it, one row;
- "earliest" and "latest" are taken over one total order, event time then event id
  (:data:`EventKey`, :func:`earliest`, :func:`latest`), so a view depends on the *set* of events and
  never on the order they arrived in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from majorops.shared.events import CloudEvent, EventData

EventKey = tuple[datetime, str]
"""The total order every tie is broken by: event time (UTC), then event id."""

DataT = TypeVar("DataT", bound=EventData, covariant=True)
StateT = TypeVar("StateT")
ValueT = TypeVar("ValueT")


def event_key(event: CloudEvent) -> EventKey:
    """Where the event stands in the record's total order."""
    return (event.occurred_at.astimezone(UTC), event.id)


@dataclass(frozen=True, slots=True)
class TypedEvent(Generic[DataT]):
    """One event with its ``data`` read through its type's model."""

    event: CloudEvent
    data: DataT

    @property
    def at(self) -> datetime:
        """When it happened, in UTC."""
        return self.event.occurred_at.astimezone(UTC)

    @property
    def key(self) -> EventKey:
        """Its place in the record's total order (:data:`EventKey`)."""
        return (self.at, self.event.id)


def distinct_events(incident_id: str, events: Iterable[CloudEvent]) -> list[CloudEvent]:
    """Each event of ``incident_id`` once (the first occurrence of an id wins, as in the event log),
    in the order given.

    Raises ``ValueError`` for an event of another incident: mixing incidents would silently corrupt
    both incidents' views.
    """
    seen: set[str] = set()
    out: list[CloudEvent] = []
    for event in events:
        if event.subject != incident_id:
            raise ValueError(f"event {event.id!r} belongs to incident {event.subject!r}, not {incident_id!r}")
        if event.id not in seen:
            seen.add(event.id)
            out.append(event)
    return out


def in_event_order(events: Iterable[CloudEvent]) -> list[CloudEvent]:
    """The events sorted by :data:`EventKey` (event time, then event id)."""
    return sorted(events, key=event_key)


Reader = Callable[[StateT, TypedEvent[Any]], None]
"""What one event type does to a view's running state."""


@dataclass(frozen=True)
class EventFold(Generic[StateT]):
    """A fold of an incident's events into a view, as a table: event type → :data:`Reader`.

    Types without a row are not read by this view (their data is not even parsed).
    """

    readers: Mapping[str, Reader[StateT]]
    skip_invalid: bool = False
    """Whether an event whose ``data`` does not fit its type's model is left out (a view that must
    keep going whatever one event says) rather than raising ``ValidationError``. Events are validated
    before they are stored, so this only matters for a record written by an older version."""

    def read(self, state: StateT, event: CloudEvent) -> bool:
        """Fold one event into ``state``; ``False`` when this view does not read its type (or skips
        its invalid data)."""
        reader = self.readers.get(event.type)
        if reader is None:
            return False
        try:
            data = event.typed_data()
        except ValidationError:
            if self.skip_invalid:
                return False
            raise
        reader(state, TypedEvent(event, data))
        return True

    def read_all(self, state: StateT, events: Iterable[CloudEvent]) -> StateT:
        """Fold every event into ``state``, in the order given; return ``state``."""
        for event in events:
            self.read(state, event)
        return state


def vendor_key(name: str) -> str:
    """How two mentions of a vendor are matched: trimmed and case-insensitive ("Acme" = "acme ")."""
    return name.strip().casefold()


def earliest(current: datetime | None, candidate: datetime) -> datetime:
    """The earlier of a running earliest time (``None``: none yet) and a new one."""
    return candidate if current is None or candidate < current else current


def latest(current: tuple[EventKey, ValueT] | None, key: EventKey, value: ValueT) -> tuple[EventKey, ValueT]:
    """The value of the later event: a running ``(key, value)`` (``None``: none yet) or the new one."""
    return (key, value) if current is None or key > current[0] else current
