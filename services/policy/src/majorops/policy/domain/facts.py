"""An incident's facts (CONTRACT §3 "Derived facts"): a function of the shared read model.

Policy reads no event itself: :func:`facts_of` takes what :mod:`majorops.shared.incident` read of
the incident (the one reading reminders and reports use too) and keeps what the rules and deadlines
need. :class:`FactsAccumulator` keeps an :class:`~majorops.shared.incident.IncidentReader` per
incident, so a new event costs O(1) and deriving the facts costs what changed — never a re-read of
the history per new event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from majorops.shared.events import CloudEvent, Severity
from majorops.shared.incident import IncidentReader, read_incident
from majorops.shared.incident.model import Incident, elapsed, seconds_rounded_up


@dataclass(frozen=True, slots=True)
class RootCause:
    """The incident's current root cause: the latest ``rootcause.identified`` (time, then id)."""

    fingerprint: str
    identified_at: datetime
    """When this fingerprint was first identified for the incident (the earliest event naming it).

    A later re-confirmation of the same fingerprint must not make an incident look newer than
    another one it actually preceded, so repeat detection compares first sightings.
    """
    unusual: bool
    vendor_related: bool


@dataclass(frozen=True, slots=True)
class OpenActionItem:
    """An action item of the incident (MTM items included) not completed."""

    item_id: str
    title: str
    owner: str | None = None
    due: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """Everything policy's rules and deadlines read about one incident. All times are UTC."""

    incident_id: str
    severity: Severity | None = None
    """The highest severity the incident ever had (declared or updated)."""
    declared_at: datetime | None = None
    started_at: datetime | None = None
    """The earliest ``alert.fired``, ``incident.confirmed`` or ``incident.declared``."""
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    customer_impact: bool = False
    root_cause: RootCause | None = None
    after_action_held_at: datetime | None = None
    review_published_at: datetime | None = None
    meeting_at: datetime | None = None
    """The ``meeting_at`` of the latest ``afteraction.scheduled``/``rescheduled`` (time, then id)."""
    open_action_items: tuple[OpenActionItem, ...] = ()
    """Sorted by item id."""
    event_count: int = 0
    """Distinct events read (duplicates by id counted once)."""

    @property
    def ended_at(self) -> datetime | None:
        """When the incident ended for its duration: resolved, or failing that closed."""
        return self.resolved_at if self.resolved_at is not None else self.closed_at

    @property
    def duration(self) -> timedelta | None:
        """Start → resolved (else closed); ``None`` while open or with no start, never negative."""
        return elapsed(self.started_at, self.ended_at)

    @property
    def duration_seconds(self) -> int | None:
        """The duration in whole seconds, rounded *up* (see :func:`seconds_rounded_up`)."""
        return seconds_rounded_up(self.duration)


def facts_of(incident: Incident) -> IncidentFacts:
    """What policy's rules and deadlines read of the incident."""
    root_cause = incident.root_cause
    return IncidentFacts(
        incident_id=incident.incident_id,
        severity=incident.severity,
        declared_at=incident.declared_at,
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        customer_impact=incident.impact.customer_impact is True,
        root_cause=None
        if root_cause is None
        else RootCause(
            fingerprint=root_cause.fingerprint,
            identified_at=root_cause.identified_at,
            unusual=bool(root_cause.unusual),
            vendor_related=bool(root_cause.vendor_related),
        ),
        after_action_held_at=incident.after_action.held_at,
        review_published_at=incident.after_action.published_at,
        meeting_at=incident.after_action.meeting_at,
        open_action_items=tuple(
            sorted(
                (OpenActionItem(i.item_id, i.label, i.owner, i.due) for i in incident.open_action_items),
                key=lambda item: item.item_id,
            )
        ),
        event_count=incident.event_count,
    )


class FactsAccumulator:
    """One incident's facts over events given one at a time, in any order (an
    :class:`~majorops.shared.incident.IncidentReader` underneath)."""

    def __init__(self, incident_id: str) -> None:
        self.incident_id = incident_id
        self._reader = IncidentReader(incident_id)
        self._facts: IncidentFacts | None = None

    def add(self, event: CloudEvent) -> bool:
        """Read one event in; ``False`` (and no change) when its id was already read.

        Raises ``ValueError`` for an event of another incident: mixing incidents would silently
        corrupt both decisions.
        """
        added = self._reader.add(event)
        if added:
            self._facts = None
        return added

    def facts(self) -> IncidentFacts:
        """The facts of every event read so far."""
        if self._facts is None:
            self._facts = facts_of(self._reader.incident())
        return self._facts


def fold_facts(events: Iterable[CloudEvent], incident_id: str | None = None) -> IncidentFacts:
    """The facts of a whole history; ``incident_id`` defaults to the events' subject.

    Raises ``ValueError`` when the events belong to several incidents, or when there are none
    and no ``incident_id`` is given.
    """
    return facts_of(read_incident(events, incident_id))
