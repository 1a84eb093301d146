"""What reports' handlers need from the outside world: the store, the event publisher, a clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

from majorops.reports.domain.document import Narrative
from majorops.reports.domain.follow_up import AlertFire, AlertKey
from majorops.reports.domain.listing import ActionItemRecord, ReviewListing
from majorops.reports.domain.timeline import ReviewStatus
from majorops.shared.decisions import AfterActionDecision, Requirement
from majorops.shared.escalations import Escalation
from majorops.shared.events import CloudEvent
from majorops.shared.storage.eventlog import StoredEvent

Clock = Callable[[], datetime]
"""Now, timezone-aware. Injected so that tests decide what "overdue" means."""


def utc_now() -> datetime:
    """The production clock."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StoredNarrative:
    """The narrative people wrote for an incident and its version (0: nobody wrote any yet)."""

    narrative: Narrative | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class StoredReview:
    """The materialised review of one incident: the JSON served, and its indexed fields."""

    listing: ReviewListing
    document: dict[str, Any]
    """The Learning Review as served by ``GET /v1/reviews/{incident_id}``."""
    etag: str
    """The strong entity tag of ``document``."""
    narrative_version: int
    """The narrative version it was assembled with (an edit is checked against it)."""
    repeat_of: tuple[str, ...] = ()
    """The earlier incidents it links (to re-assemble it when one of them changes)."""
    stale: bool = False
    """Read only: something of the incident changed since it was assembled (ignored on save)."""


@dataclass(frozen=True, slots=True)
class ReviewQuery:
    """A page of ``GET /v1/reviews``: filters, then incident ids after ``after``, ascending."""

    now: datetime
    status: ReviewStatus | None = None
    requirement: Requirement | None = None
    overdue: bool | None = None
    """True: the next deadline is at or before ``now``; False: it is not; None: either."""
    limit: int = 50
    after: str | None = None


@dataclass(frozen=True, slots=True)
class ActionItemQuery:
    """A page of ``GET /v1/action-items``: filters, then (incident, item) after ``after``, ascending."""

    now: datetime
    open: bool | None = None
    overdue: bool | None = None
    """True: open with a due time at or before ``now``; False: not that; None: either."""
    limit: int = 50
    after: tuple[str, str] | None = None


class ReviewStore(Protocol):
    """Every incident's record, its materialised review, and the cross-incident indexes.

    Every write of a consumed message is idempotent (a redelivered message changes nothing), so
    both adapters pass one contract test suite and several replicas can share one store.

    Reviews are materialised with a generation per incident: :meth:`mark_changed` bumps it
    *after* the change is stored, the assembler reads everything *after* bumping, and
    :meth:`save_review` only writes an assembly newer than the stored one. So two replicas
    assembling the same incident concurrently end with the newest assembly, never an older one.
    """

    # --- the record ---------------------------------------------------------------------------

    async def append_event(self, event: StoredEvent) -> bool:
        """Store the event; False (and no change) when its id is already stored."""
        ...

    async def append_events(self, events: Sequence[StoredEvent]) -> list[bool]:
        """Store a batch in one write; per event, whether it was new (see :meth:`append_event`)."""
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

    # --- the narrative ------------------------------------------------------------------------

    async def narrative_for(self, incident_id: str) -> StoredNarrative:
        """The incident's narrative and version; version 0 and no narrative when none was written."""
        ...

    async def save_narrative(
        self, incident_id: str, narrative: Narrative, expected_version: int
    ) -> int | None:
        """Replace the narrative if its version is still ``expected_version``; the new version, or
        None (and no change) when someone else saved one meanwhile."""
        ...

    # --- materialised reviews -----------------------------------------------------------------

    async def mark_changed(self, incident_id: str) -> int:
        """Note that something of the incident changed; the new generation (the review is stale)."""
        ...

    async def stale_reviews(self, limit: int) -> list[str]:
        """Incidents whose review is older than their last change, at most ``limit``."""
        ...

    async def save_review(
        self, review: StoredReview, action_items: Sequence[ActionItemRecord], generation: int
    ) -> bool:
        """Store the review assembled at ``generation`` and its action items, replacing the
        incident's previous ones, unless a newer generation is already stored (then False)."""
        ...

    async def review(self, incident_id: str) -> StoredReview | None:
        """The stored review, or None when it was never assembled."""
        ...

    async def list_reviews(self, query: ReviewQuery) -> list[ReviewListing]:
        """The assembled reviews matching the query, by incident id, at most ``query.limit``."""
        ...

    async def action_items_of(self, incident_id: str) -> list[ActionItemRecord]:
        """The incident's action items as last assembled, by item id."""
        ...

    async def list_action_items(self, query: ActionItemQuery) -> list[ActionItemRecord]:
        """Action items of every incident matching the query, by (incident id, item id)."""
        ...

    async def incidents_repeating(self, incident_id: str) -> list[str]:
        """The incidents whose stored review links ``incident_id`` as an earlier review."""
        ...

    # --- alert fires across incidents ---------------------------------------------------------

    async def record_alert_fire(self, fire: AlertFire) -> bool:
        """Index the fire once per event id; False when it is already indexed."""
        ...

    async def alert_fires(
        self, keys: Sequence[AlertKey], after: datetime, until: datetime
    ) -> list[AlertFire]:
        """Fires of any of ``keys``, any incident, with ``after < fired_at <= until``, by time."""
        ...

    async def incidents_to_recheck(self, key: AlertKey, fired_at: datetime) -> list[str]:
        """Published reviews whose incident fired ``key`` and completed an action item within the
        30 days before ``fired_at``: the reviews a new fire at ``fired_at`` may flag."""
        ...

    # --- lifecycle ----------------------------------------------------------------------------

    async def ping(self) -> bool:
        """True when the store answers (readiness)."""
        ...

    async def close(self) -> None: ...


class EventPublisher(Protocol):
    """Publishes the events reports emits (action items, publication) to the events stream."""

    async def publish(self, event: CloudEvent) -> int:
        """Publish with ``Nats-Msg-Id`` = event id and wait for JetStream's acknowledgement.

        Returns the stream sequence (the event's arrival); raises
        :class:`~majorops.shared.jetstream.UnacknowledgedPublish` when it was not acknowledged.
        """
        ...


@dataclass(frozen=True)
class ReportsPorts:
    """Everything the use cases act through."""

    store: ReviewStore
    publisher: EventPublisher
    clock: Clock = utc_now
    timezone: tzinfo = UTC
    """The organisation's time zone: a plain-date action item due ends at midnight there."""
    extra_types: frozenset[str] = field(default_factory=frozenset)


class StoreNotOpen(RuntimeError):
    """A message or request arrived before the store was opened (or after it closed)."""
