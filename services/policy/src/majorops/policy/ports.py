"""What policy's handlers need from the outside world."""

from __future__ import annotations

from typing import Protocol

from majorops.shared.storage.eventlog import StoredEvent


class PolicyStore(Protocol):
    """Policy's own record of every incident event, kept so that decisions can be re-derived.

    Opened when the service starts and closed when it stops. Both adapters (SQLite, MongoDB)
    behave the same; the store tests run against each.
    """

    async def open(self) -> None:
        """Connect and create tables/indexes; safe to call on an existing store."""
        ...

    async def close(self) -> None: ...

    async def append_event(self, event: StoredEvent) -> bool:
        """Store the event once; False (and no change) when its id is already stored."""
        ...

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        """The incident's events sorted by event time, ties by arrival (stream sequence)."""
        ...

    async def incident_ids(self) -> list[str]:
        """Every incident with at least one stored event, sorted."""
        ...
