"""An incident's facts, folded from the set of its events (CONTRACT §3 "Derived facts").

The fold depends only on the *set* of events: each event id counts once, every "earliest"/"latest"
choice is a minimum/maximum over a total order (event time, then event id), and every boolean is an
"ever true". Such folds are commutative and idempotent, so :class:`FactsAccumulator` can take the
events one at a time in any order, in O(1) per event, and re-deriving an incident of N events costs
O(N) — never a refold of the history per new event.

Events are expected to have passed :func:`majorops.shared.events.validate_event` (the handler
validates before storing); a reused event id with a different body is ignored like the event log
ignores it (the first one stored wins), because the contract says the same id is the same event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from majorops.shared.events import (
    SEVERITY_RANK,
    ActionItemCompleted,
    ActionItemCreated,
    ActionItemUpdated,
    AfterActionRescheduled,
    AfterActionScheduled,
    AlertFired,
    CloudEvent,
    EventType,
    IncidentDeclared,
    IncidentUpdated,
    RootCauseIdentified,
    Severity,
    parse_rfc3339,
)

EventKey = tuple[datetime, str]
"""The total order every tie is broken by: event time, then event id."""


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


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


@dataclass(slots=True)
class _ActionItemState:
    # Each field keeps the value of the latest (time, id) event that set it, so the result is
    # order-independent; completion is terminal (there is no "reopen" event).
    title: tuple[EventKey, str] | None = None
    owner: tuple[EventKey, str] | None = None
    due: tuple[EventKey, str] | None = None
    completed: bool = False

    def set_latest(self, name: str, key: EventKey, value: str | None) -> None:
        if value is None:
            return
        current: tuple[EventKey, str] | None = getattr(self, name)
        if current is None or key > current[0]:
            setattr(self, name, (key, value))


@dataclass(slots=True)
class FactsAccumulator:
    """Folds one incident's events into :class:`IncidentFacts`, one event at a time, in any order.

    ``add`` is O(1) per event; :meth:`facts` is O(1) plus the number of action items (cached until
    an action-item event arrives).
    """

    incident_id: str
    _seen: set[str] = field(default_factory=set, init=False)
    _severity: Severity | None = field(default=None, init=False)
    _declared_at: datetime | None = field(default=None, init=False)
    _started_at: datetime | None = field(default=None, init=False)
    _resolved_at: datetime | None = field(default=None, init=False)
    _closed_at: datetime | None = field(default=None, init=False)
    _customer_impact: bool = field(default=False, init=False)
    _root_cause_key: EventKey | None = field(default=None, init=False)
    _root_cause: RootCauseIdentified | None = field(default=None, init=False)
    _fingerprint_first_seen: dict[str, datetime] = field(default_factory=dict, init=False)
    _held_at: datetime | None = field(default=None, init=False)
    _published_at: datetime | None = field(default=None, init=False)
    _meeting_key: EventKey | None = field(default=None, init=False)
    _meeting_at: datetime | None = field(default=None, init=False)
    _items: dict[str, _ActionItemState] = field(default_factory=dict, init=False)
    _open_items_cache: tuple[OpenActionItem, ...] | None = field(default=None, init=False)

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
        at = event.occurred_at.astimezone(UTC)
        key: EventKey = (at, event.id)
        kind = event.type
        if kind == EventType.ALERT_FIRED:
            alert = AlertFired.model_validate(event.data)
            self._started_at = _earliest(self._started_at, at)
            if (alert.customer_count or 0) > 0 or alert.external_impact:
                self._customer_impact = True
        elif kind == EventType.INCIDENT_CONFIRMED:
            self._started_at = _earliest(self._started_at, at)
        elif kind == EventType.INCIDENT_DECLARED:
            declared = IncidentDeclared.model_validate(event.data)
            self._declared_at = _earliest(self._declared_at, at)
            self._started_at = _earliest(self._started_at, at)
            self._raise_severity(declared.severity)
            self._customer_impact = self._customer_impact or bool(declared.customer_impact)
        elif kind == EventType.INCIDENT_UPDATED:
            updated = IncidentUpdated.model_validate(event.data)
            if updated.severity is not None:
                self._raise_severity(updated.severity)
            self._customer_impact = self._customer_impact or bool(updated.customer_impact)
        elif kind == EventType.INCIDENT_RESOLVED:
            self._resolved_at = _earliest(self._resolved_at, at)
        elif kind == EventType.INCIDENT_CLOSED:
            self._closed_at = _earliest(self._closed_at, at)
        elif kind == EventType.ROOTCAUSE_IDENTIFIED:
            root_cause = RootCauseIdentified.model_validate(event.data)
            first = self._fingerprint_first_seen.get(root_cause.fingerprint)
            self._fingerprint_first_seen[root_cause.fingerprint] = _earliest(first, at)
            if self._root_cause_key is None or key > self._root_cause_key:
                self._root_cause_key, self._root_cause = key, root_cause
        elif kind == EventType.AFTERACTION_HELD:
            self._held_at = _earliest(self._held_at, at)
        elif kind == EventType.REVIEW_PUBLISHED:
            self._published_at = _earliest(self._published_at, at)
        elif kind in (EventType.AFTERACTION_SCHEDULED, EventType.AFTERACTION_RESCHEDULED):
            model = (
                AfterActionScheduled if kind == EventType.AFTERACTION_SCHEDULED else AfterActionRescheduled
            )
            meeting = model.model_validate(event.data)
            if self._meeting_key is None or key > self._meeting_key:
                self._meeting_key = key
                self._meeting_at = parse_rfc3339(meeting.meeting_at).astimezone(UTC)
        elif kind in (
            EventType.ACTIONITEM_CREATED,
            EventType.ACTIONITEM_UPDATED,
            EventType.ACTIONITEM_COMPLETED,
        ):
            self._add_action_item_event(event, key)
        return True

    def _raise_severity(self, severity: Severity) -> None:
        if self._severity is None or SEVERITY_RANK[severity] > SEVERITY_RANK[self._severity]:
            self._severity = severity

    def _add_action_item_event(self, event: CloudEvent, key: EventKey) -> None:
        self._open_items_cache = None
        if event.type == EventType.ACTIONITEM_COMPLETED:
            completed = ActionItemCompleted.model_validate(event.data)
            self._items.setdefault(completed.item_id, _ActionItemState()).completed = True
            return
        model = ActionItemCreated if event.type == EventType.ACTIONITEM_CREATED else ActionItemUpdated
        item = model.model_validate(event.data)
        state = self._items.setdefault(item.item_id, _ActionItemState())
        state.set_latest("title", key, item.title)
        state.set_latest("owner", key, item.owner)
        state.set_latest("due", key, item.due)

    def _open_action_items(self) -> tuple[OpenActionItem, ...]:
        if self._open_items_cache is None:
            self._open_items_cache = tuple(
                OpenActionItem(
                    item_id=item_id,
                    # An item known only from an update that named no title still exists; its id
                    # is the most useful label there is.
                    title=state.title[1] if state.title else item_id,
                    owner=state.owner[1] if state.owner else None,
                    due=state.due[1] if state.due else None,
                )
                for item_id, state in sorted(self._items.items())
                if not state.completed
            )
        return self._open_items_cache

    def facts(self) -> IncidentFacts:
        """The facts of every event folded so far."""
        root_cause = None
        if self._root_cause is not None:
            root_cause = RootCause(
                fingerprint=self._root_cause.fingerprint,
                identified_at=self._fingerprint_first_seen[self._root_cause.fingerprint],
                unusual=bool(self._root_cause.unusual),
                vendor_related=bool(self._root_cause.vendor_related),
            )
        return IncidentFacts(
            incident_id=self.incident_id,
            severity=self._severity,
            declared_at=self._declared_at,
            started_at=self._started_at,
            resolved_at=self._resolved_at,
            closed_at=self._closed_at,
            customer_impact=self._customer_impact,
            root_cause=root_cause,
            after_action_held_at=self._held_at,
            review_published_at=self._published_at,
            meeting_at=self._meeting_at,
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
