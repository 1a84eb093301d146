"""The incident event log: every accepted event once, keyed by event id, in event-time order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from majorops.shared.events import CloudEvent


def sortable_utc(value: datetime) -> str:
    """Fixed-width UTC text (microseconds always present), so string order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


ROW_COLUMNS = ("event_id", "incident_id", "type", "time_utc", "arrival", "envelope")
"""The columns of an event as a table row (SQLite): :meth:`StoredEvent.row` and :meth:`StoredEvent.from_row`."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as a service stored it. ``arrival`` is the JetStream stream sequence (ties by arrival)."""

    event_id: str
    incident_id: str
    type: str
    time_utc: str
    arrival: int
    envelope: dict[str, Any]

    @classmethod
    def from_event(cls, event: CloudEvent, arrival: int) -> StoredEvent:
        return cls(
            event_id=event.id,
            incident_id=event.incident_id,
            type=event.type,
            time_utc=sortable_utc(event.occurred_at),
            arrival=arrival,
            envelope=event.to_wire(),
        )

    def event(self) -> CloudEvent:
        return CloudEvent.model_validate(self.envelope)

    def envelope_json(self) -> str:
        return json.dumps(self.envelope, ensure_ascii=False, separators=(",", ":"))

    def row(self) -> tuple[str, str, str, str, int, str]:
        """The event as a row of a table of :data:`ROW_COLUMNS` (the envelope as JSON text)."""
        return (self.event_id, self.incident_id, self.type, self.time_utc, self.arrival, self.envelope_json())

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StoredEvent:
        """The event of a row of :data:`ROW_COLUMNS`, as :meth:`row` wrote it."""
        event_id, incident_id, type_, time_utc, arrival, envelope = row[: len(ROW_COLUMNS)]
        return cls(
            str(event_id), str(incident_id), str(type_), str(time_utc), int(arrival), json.loads(envelope)
        )


class EventLog(Protocol):
    """Idempotent append and per-incident reads. Both adapters pass one contract test suite."""

    async def append(self, event: StoredEvent) -> bool:
        """Store the event; False (and no change) when its id is already stored."""
        ...

    async def append_many(self, events: Sequence[StoredEvent]) -> list[bool]:
        """Store a batch in one write; per event, whether it was new (an id repeated in the batch
        counts once, the first)."""
        ...

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        """The incident's events sorted by event time, ties by arrival."""
        ...

    async def incident_ids(self) -> list[str]: ...
