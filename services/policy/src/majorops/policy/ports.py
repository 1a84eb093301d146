"""What policy's handlers need from the outside world: its store and a decision publisher."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from majorops.policy.domain.repeats import RootCauseSighting
from majorops.shared.decisions import AfterActionDecision, DecisionContent
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.storage.incident_events import IncidentEventStore


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """The latest decision revision of an incident as the store keeps it."""

    incident_id: str
    revision: int
    content: DecisionContent
    published: bool
    """True once JetStream acknowledged this revision on ``majorops.decisions.<incident_id>``."""

    def decision(self) -> AfterActionDecision:
        """The decision as published."""
        return self.content.with_revision(self.revision)


@dataclass(frozen=True, slots=True)
class IndexedRootCause:
    """An incident's entry in the fingerprint index."""

    sighting: RootCauseSighting
    previous_fingerprint: str | None
    """The fingerprint the entry had before its last change of fingerprint (a corrected root cause):
    incidents sharing it may have listed this one in ``repeat_of``."""


@dataclass(frozen=True, slots=True)
class IncidentState:
    """What the store knows of one incident, read in one go: events, latest decision, index entry."""

    incident_id: str
    event_count: int
    """Distinct events stored for the incident (each event id once)."""
    decision: StoredDecision | None
    """``None`` until revision 1 was stored."""
    root_cause: IndexedRootCause | None = None
    """The incident's entry in the fingerprint index, if it has one."""

    @property
    def revision(self) -> int:
        """The latest stored revision, 0 before the first."""
        return 0 if self.decision is None else self.decision.revision


class PolicyStore(IncidentEventStore, Protocol):
    """Policy's own record: every incident event, the latest decision per incident, the fingerprint index.

    Opened when the service starts and closed when it stops. Both adapters (SQLite, MongoDB)
    behave the same; the store tests run against each.
    """

    async def events_stored_after(self, incident_id: str, position: int) -> tuple[list[StoredEvent], int]:
        """The incident's events stored after the first ``position`` ones, and the new position.

        Positions count the incident's events in the order the store received them (0 = from the
        start; the position after all of them is the incident's event count). A store without
        an insertion order may return events before ``position`` too: folding ignores an event
        already folded.
        """
        ...

    async def incident_state(self, incident_id: str) -> IncidentState:
        """The incident's event count, latest decision and fingerprint-index entry."""
        ...

    async def save_decision(
        self, incident_id: str, content: DecisionContent, expected_revision: int, event_count: int
    ) -> bool:
        """Compare-and-set: store ``content`` as revision ``expected_revision + 1``, not yet published.

        False (and no change) when the latest revision is no longer ``expected_revision`` — another
        replica decided meanwhile — or, where the store can check it in the same write, when the
        incident no longer has exactly ``event_count`` events (the decision would be stale).
        """
        ...

    async def mark_published(self, incident_id: str, revision: int) -> None:
        """Record that this revision is on the stream; no change if the latest revision moved on."""
        ...

    async def unpublished_decisions(self) -> list[StoredDecision]:
        """Every latest revision not yet marked published (left behind by a crash or an outage)."""
        ...

    async def index_root_cause(self, sighting: RootCauseSighting, event_count: int) -> bool:
        """Set the incident's entry, derived from ``event_count`` events; False if a fresher one is there.

        An entry derived from more events wins: a replica whose view of the incident is behind
        must not overwrite what a replica that saw more events wrote.
        """
        ...

    async def root_causes_with(self, fingerprints: Collection[str]) -> list[RootCauseSighting]:
        """Every entry of the index whose fingerprint is one of these."""
        ...


class DecisionPublisher(Protocol):
    """Where decisions go: ``majorops.decisions.<incident_id>`` on JetStream."""

    async def publish(self, decision: AfterActionDecision) -> bool:
        """Append this revision to the incident's subject unless the subject already holds it.

        True when this call appended it; False when the subject's last message already is this
        revision or a later one (published before a crash, or by another replica). Appending is
        atomic with that check, across replicas, and uses ``Nats-Msg-Id`` =
        ``<incident_id>:<revision>``. Raises unless JetStream acknowledged.
        """
        ...
