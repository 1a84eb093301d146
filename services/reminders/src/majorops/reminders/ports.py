"""What reminders' handlers need from the outside world."""

from __future__ import annotations

from typing import Protocol

from majorops.shared.decisions import AfterActionDecision
from majorops.shared.storage.eventlog import StoredEvent


class RemindersStore(Protocol):
    """Reminders' own record: every incident event, and the latest After Action decision per incident.

    Obligations are re-derived from these two. Opened when the service starts and closed when it
    stops. Both adapters (SQLite, MongoDB) behave the same; the store tests run against each.
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

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        """Keep the decision if its revision is higher than the stored one's; True when it was kept.

        Decisions may arrive in any order and more than once: the highest revision always wins.
        """
        ...

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        """The highest-revision decision received for the incident, or None."""
        ...
