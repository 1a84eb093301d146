"""An incident's facts, folded from the set of its events (CONTRACT §3 "Derived facts").

The fold depends only on the *set* of events: each event id counts once, every "earliest"/"latest"
choice is a minimum/maximum over a total order (event time, then event id), and every boolean is an
"ever true". Such folds are commutative and idempotent, so :class:`FactsAccumulator` can take the
events one at a time in any order, in O(1) per event, and re-deriving an incident of N events costs
O(N) — never a refold of the history per new event. What each event type contributes is one row of
:data:`FACT_READERS`, a fold of the shared reading of :mod:`majorops.shared.record`.

Events are expected to have passed :func:`majorops.shared.events.validate_event` (the handler
validates before storing); a reused event id with a different body is ignored like the event log
ignores it (the first one stored wins), because the contract says the same id is the same event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from majorops.shared import events
from majorops.shared.events import SEVERITY_RANK, CloudEvent, EventType, Severity, parse_rfc3339
from majorops.shared.record import EventFold, EventKey, TypedEvent, earliest, latest


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
    """An action item created or updated for the incident and not completed."""

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
    """Distinct events folded (duplicates by id counted once)."""

    @property
    def ended_at(self) -> datetime | None:
        """When the incident ended for its duration: resolved, or failing that closed."""
        return self.resolved_at if self.resolved_at is not None else self.closed_at

    @property
    def duration(self) -> timedelta | None:
        """Start → resolved (else closed); ``None`` while open or with no start.

        Clamped at zero: an end stamped before the start is a data error, not a negative outage.
        """
        end = self.ended_at
        if end is None or self.started_at is None:
            return None
        return max(end - self.started_at, timedelta(0))

    @property
    def duration_seconds(self) -> int | None:
        """The duration in whole seconds, rounded *up*.

        Rounding up keeps the published number consistent with the rules: ``duration_seconds > 7200``
        exactly when the duration is strictly over 2 h (7200.4 s is over 2 h, and shows as 7201).
        """
        duration = self.duration
        if duration is None:
            return None
        microseconds = duration // timedelta(microseconds=1)
        return -(-microseconds // 1_000_000)


@dataclass(slots=True)
class _ActionItemState:
    # Each field keeps the value of the latest (time, id) event that set it, so the result is
    # order-independent; completion is terminal (there is no "reopen" event).
    title: tuple[EventKey, str] | None = None
    owner: tuple[EventKey, str] | None = None
    due: tuple[EventKey, str] | None = None
    completed: bool = False

    def set_latest(self, name: str, key: EventKey, value: str | None) -> None:
        if value is not None:
            setattr(self, name, latest(getattr(self, name), key, value))


@dataclass(slots=True)
class _FactsFold:
    """The running state of one incident's facts (what :data:`FACT_READERS` writes)."""

    known: IncidentFacts
    """The facts read straight off the events so far; root cause, meeting and items come from below."""
    root_cause: tuple[EventKey, events.RootCauseIdentified] | None = None
    fingerprint_first_seen: dict[str, datetime] = field(default_factory=dict)
    meeting: tuple[EventKey, datetime] | None = None
    items: dict[str, _ActionItemState] = field(default_factory=dict)
    open_items: tuple[OpenActionItem, ...] | None = None
    """The open items as :meth:`FactsAccumulator.facts` lists them; ``None`` until asked again."""

    def raise_severity(self, severity: Severity | None) -> None:
        current = self.known.severity
        if severity is not None and (current is None or SEVERITY_RANK[severity] > SEVERITY_RANK[current]):
            self.known = replace(self.known, severity=severity)

    def start(self, at: datetime) -> None:
        self.known = replace(self.known, started_at=earliest(self.known.started_at, at))

    def impact(self, signal: bool | None) -> None:
        if signal and not self.known.customer_impact:
            self.known = replace(self.known, customer_impact=True)

    def item(self, item_id: str) -> _ActionItemState:
        self.open_items = None
        return self.items.setdefault(item_id, _ActionItemState())


def _alert_fired(facts: _FactsFold, read: TypedEvent[events.AlertFired]) -> None:
    facts.start(read.at)
    facts.impact((read.data.customer_count or 0) > 0 or read.data.external_impact)


def _incident_confirmed(facts: _FactsFold, read: TypedEvent[events.NoData]) -> None:
    facts.start(read.at)


def _incident_declared(facts: _FactsFold, read: TypedEvent[events.IncidentDeclared]) -> None:
    facts.known = replace(facts.known, declared_at=earliest(facts.known.declared_at, read.at))
    facts.start(read.at)
    facts.raise_severity(read.data.severity)
    facts.impact(read.data.customer_impact)


def _incident_updated(facts: _FactsFold, read: TypedEvent[events.IncidentUpdated]) -> None:
    facts.raise_severity(read.data.severity)
    facts.impact(read.data.customer_impact)


def _incident_resolved(facts: _FactsFold, read: TypedEvent[events.NoData]) -> None:
    facts.known = replace(facts.known, resolved_at=earliest(facts.known.resolved_at, read.at))


def _incident_closed(facts: _FactsFold, read: TypedEvent[events.NoData]) -> None:
    facts.known = replace(facts.known, closed_at=earliest(facts.known.closed_at, read.at))


def _root_cause_identified(facts: _FactsFold, read: TypedEvent[events.RootCauseIdentified]) -> None:
    fingerprint = read.data.fingerprint
    facts.fingerprint_first_seen[fingerprint] = earliest(
        facts.fingerprint_first_seen.get(fingerprint), read.at
    )
    facts.root_cause = latest(facts.root_cause, read.key, read.data)


def _after_action_held(facts: _FactsFold, read: TypedEvent[events.NoData]) -> None:
    held = earliest(facts.known.after_action_held_at, read.at)
    facts.known = replace(facts.known, after_action_held_at=held)


def _review_published(facts: _FactsFold, read: TypedEvent[events.NoData]) -> None:
    published = earliest(facts.known.review_published_at, read.at)
    facts.known = replace(facts.known, review_published_at=published)


def _meeting_set(
    facts: _FactsFold, read: TypedEvent[events.AfterActionScheduled | events.AfterActionRescheduled]
) -> None:
    facts.meeting = latest(facts.meeting, read.key, parse_rfc3339(read.data.meeting_at).astimezone(UTC))


def _action_item_changed(
    facts: _FactsFold, read: TypedEvent[events.ActionItemCreated | events.ActionItemUpdated]
) -> None:
    state = facts.item(read.data.item_id)
    state.set_latest("title", read.key, read.data.title)
    state.set_latest("owner", read.key, read.data.owner)
    state.set_latest("due", read.key, read.data.due)


def _action_item_completed(facts: _FactsFold, read: TypedEvent[events.ActionItemCompleted]) -> None:
    facts.item(read.data.item_id).completed = True


FACT_READERS: EventFold[_FactsFold] = EventFold(
    {
        EventType.ALERT_FIRED: _alert_fired,
        EventType.INCIDENT_CONFIRMED: _incident_confirmed,
        EventType.INCIDENT_DECLARED: _incident_declared,
        EventType.INCIDENT_UPDATED: _incident_updated,
        EventType.INCIDENT_RESOLVED: _incident_resolved,
        EventType.INCIDENT_CLOSED: _incident_closed,
        EventType.ROOTCAUSE_IDENTIFIED: _root_cause_identified,
        EventType.AFTERACTION_HELD: _after_action_held,
        EventType.REVIEW_PUBLISHED: _review_published,
        EventType.AFTERACTION_SCHEDULED: _meeting_set,
        EventType.AFTERACTION_RESCHEDULED: _meeting_set,
        EventType.ACTIONITEM_CREATED: _action_item_changed,
        EventType.ACTIONITEM_UPDATED: _action_item_changed,
        EventType.ACTIONITEM_COMPLETED: _action_item_completed,
    }
)
"""What each event type contributes to policy's facts; the types not listed change none of them."""


@dataclass(slots=True)
class FactsAccumulator:
    """Folds one incident's events into :class:`IncidentFacts`, one event at a time, in any order.

    ``add`` is O(1) per event; :meth:`facts` is O(1) plus the number of action items (cached until
    an action-item event arrives).
    """

    incident_id: str
    _seen: set[str] = field(default_factory=set, init=False)
    _fold: _FactsFold = field(init=False)

    def __post_init__(self) -> None:
        self._fold = _FactsFold(IncidentFacts(self.incident_id))

    def add(self, event: CloudEvent) -> bool:
        """Fold one event in; ``False`` (and no change) when its id was already folded.

        Raises ``ValueError`` for an event of another incident: mixing incidents would silently
        corrupt both decisions.
        """
        if event.subject != self.incident_id:
            raise ValueError(
                f"event {event.id!r} belongs to incident {event.subject!r}, not {self.incident_id!r}"
            )
        if event.id in self._seen:
            return False
        self._seen.add(event.id)
        FACT_READERS.read(self._fold, event)
        return True

    def _open_action_items(self) -> tuple[OpenActionItem, ...]:
        fold = self._fold
        if fold.open_items is None:
            fold.open_items = tuple(
                OpenActionItem(
                    item_id=item_id,
                    # An item known only from an update that named no title still exists; its id
                    # is the most useful label there is.
                    title=state.title[1] if state.title else item_id,
                    owner=state.owner[1] if state.owner else None,
                    due=state.due[1] if state.due else None,
                )
                for item_id, state in sorted(fold.items.items())
                if not state.completed
            )
        return fold.open_items

    def facts(self) -> IncidentFacts:
        """The facts of every event folded so far."""
        fold = self._fold
        root_cause = None
        if fold.root_cause is not None:
            identified = fold.root_cause[1]
            root_cause = RootCause(
                fingerprint=identified.fingerprint,
                identified_at=fold.fingerprint_first_seen[identified.fingerprint],
                unusual=bool(identified.unusual),
                vendor_related=bool(identified.vendor_related),
            )
        return replace(
            fold.known,
            root_cause=root_cause,
            meeting_at=fold.meeting[1] if fold.meeting else None,
            open_action_items=self._open_action_items(),
            event_count=len(self._seen),
        )


def fold_facts(events: Iterable[CloudEvent], incident_id: str | None = None) -> IncidentFacts:
    """Fold a whole history into facts; ``incident_id`` defaults to the events' subject.

    Raises ``ValueError`` when the events belong to several incidents, or when there are none
    and no ``incident_id`` is given.
    """
    accumulator: FactsAccumulator | None = None if incident_id is None else FactsAccumulator(incident_id)
    for event in events:
        if accumulator is None:
            accumulator = FactsAccumulator(event.subject)
        accumulator.add(event)
    if accumulator is None:
        raise ValueError("no events to fold and no incident_id given")
    return accumulator.facts()
