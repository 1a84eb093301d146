"""The incident events every service's store keeps: its store methods, answered by its event log.

Policy, reminders and reports each store the events they consume in the shared event log
(:class:`~majorops.shared.storage.sqlite.SqliteEventLog` or
:class:`~majorops.shared.storage.mongo.MongoEventLog`) and answer their ports' event methods with
it, the same way; a store that needs more around a method (a lock, a transaction) overrides it.
Their ports share :class:`IncidentEventStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from majorops.shared.storage.eventlog import EventLog, StoredEvent


class IncidentEventStore(Protocol):
    """The part of a service's store port that every service shares: its lifecycle and its record of
    incident events. A service's port extends it with its own tables or collections."""

    async def open(self) -> None:
        """Connect and create tables/indexes; safe to call on an existing store."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when the store answers (readiness); raises or answers False when it does not."""
        ...

    async def append_event(self, event: StoredEvent) -> bool:
        """Store the event once; False (and no change) when its id is already stored."""
        ...

    async def append_events(self, events: Sequence[StoredEvent]) -> list[bool]:
        """Store a batch in one write; per event, whether it was new (see :meth:`append_event`)."""
        ...

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        """The incident's events sorted by event time, ties by arrival (stream sequence)."""
        ...

    async def incident_ids(self) -> list[str]:
        """Every incident with at least one stored event, sorted."""
        ...


class _HasEventLog(Protocol):
    @property
    def events(self) -> EventLog: ...


class KeepsIncidentEvents:
    """A store's ``append_event``, ``append_events``, ``events_for`` and ``incident_ids``, by its
    event log ``self.events`` (an attribute or a property)."""

    async def append_event(self: _HasEventLog, event: StoredEvent) -> bool:
        """Store the event; False (and no change) when its id is already stored."""
        return await self.events.append(event)

    async def append_events(self: _HasEventLog, events: Sequence[StoredEvent]) -> list[bool]:
        """Store a batch in one write; per event, whether it was new."""
        return await self.events.append_many(events)

    async def events_for(self: _HasEventLog, incident_id: str) -> list[StoredEvent]:
        """The incident's events sorted by event time, ties by arrival."""
        return await self.events.events_for(incident_id)

    async def incident_ids(self: _HasEventLog) -> list[str]:
        """Every incident with a stored event."""
        return await self.events.incident_ids()
