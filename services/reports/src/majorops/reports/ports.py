"""What reports' handlers need from the outside world: the store of each incident's record."""

from __future__ import annotations

from typing import Protocol

from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.storage.eventlog import StoredEvent


class ReviewStore(Protocol):
    """The events, the latest After Action decision and the escalations of every incident.

    Every write is idempotent (a redelivered message changes nothing), so both adapters pass one
    contract test suite and several replicas can share one store.
    """

    async def append_event(self, event: StoredEvent) -> bool:
        """Store the event; False (and no change) when its id is already stored."""
        ...

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        """The incident's events sorted by event time, ties by arrival."""
        ...

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        """Keep the decision if its revision is the highest seen for its incident; True when it is.

        A lower or repeated revision (a late or redelivered message) changes nothing.
        """
        ...

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        """The decision with the highest revision, or None when policy has published none yet."""
        ...

    async def save_escalation(self, escalation: Escalation) -> bool:
        """Store the escalation once per ``escalation_id``; False when it is already stored."""
        ...

    async def escalations_for(self, incident_id: str) -> list[Escalation]:
        """The incident's escalations by ``fired_at``, then ``escalation_id``."""
        ...

    async def knows_incident(self, incident_id: str) -> bool:
        """True once anything (event, decision or escalation) of the incident is stored."""
        ...

    async def ping(self) -> bool:
        """True when the store answers (readiness)."""
        ...

    async def close(self) -> None: ...
