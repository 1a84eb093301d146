"""What reminders reads from one incident's events: the facts its obligations hang on.

The reading depends only on the *set* of events: each event id counts once (the first occurrence in
the given list wins, as in the event log, because the contract says the same id is the same event),
and every "earliest"/"latest" choice is a minimum/maximum over one total order — event time, then
event id. So the same events in any order give the same record.

Rules that belong to policy (severity, deadlines, requirement) are *not* derived here; they come
from the decision. This module only reads what the obligation table of CONTRACT §4 needs beyond it:
which events meet an obligation and when, the action items, the vendors, the reschedules and who
holds each role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from pydantic import ValidationError

from majorops.shared.events import (
    ActionItemCompleted,
    ActionItemCreated,
    ActionItemUpdated,
    CloudEvent,
    EventType,
    MtmHeld,
    RoleAssigned,
    Severity,
    VendorEngaged,
    VendorRcaCommitted,
    VendorRcaReceived,
    due_moment,
    mtm_item_id,
    normalise_severity,
    parse_rfc3339,
)

EventKey = tuple[datetime, str]
"""The total order every tie is broken by: event time (UTC), then event id."""


def vendor_key(name: str) -> str:
    """How two mentions of a vendor are matched: trimmed and case-insensitive ("Acme" = "acme ")."""
    return name.strip().casefold()


def role_key(role: str) -> str:
    """How role names are matched: trimmed and case-insensitive."""
    return role.strip().casefold()


@dataclass(frozen=True, slots=True)
class ActionItem:
    """An action item as the record knows it (from ``actionitem.*`` events and MTM notes)."""

    item_id: str
    first_seen_at: datetime
    """The time of the earliest event naming the item: when it came to exist for the record."""
    title: str | None = None
    owner: str | None = None
    due_at: datetime | None = None
    """When it falls due (see :func:`due_moment`), from the latest event that set ``due``."""
    due_as_given: str | None = None
    """The ``due`` as sent, e.g. ``2026-12-01`` — what people wrote, for messages."""
    completed_at: datetime | None = None
    """The earliest ``actionitem.completed`` for it."""
    from_mtm: bool = False


@dataclass(frozen=True, slots=True)
class Vendor:
    """One vendor of the incident, all its mentions matched by :func:`vendor_key`."""

    name: str
    """The name as first written (earliest event naming the vendor)."""
    engaged_at: datetime | None = None
    rca_committed_at: datetime | None = None
    """The earliest ``vendor.rca_committed``."""
    rca_due_at: datetime | None = None
    """The ``due`` of the latest ``vendor.rca_committed`` (a revised date replaces the old one)."""
    rca_received_at: datetime | None = None
    """The earliest ``vendor.rca_received``."""


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """The facts of one incident that reminders' obligations read. All times are UTC."""

    incident_id: str
    first_at: Mapping[str, datetime] = field(default_factory=dict)
    """The earliest event time per event type (e.g. ``majorops.afteraction.held``)."""
    action_items: tuple[ActionItem, ...] = ()
    """Sorted by item id."""
    vendors: tuple[Vendor, ...] = ()
    """Sorted by first mention."""
    reschedules: tuple[datetime, ...] = ()
    """The times of every ``afteraction.rescheduled``, in event order."""
    people: Mapping[str, str] = field(default_factory=dict)
    """Role (as :func:`role_key`) → the person of its latest ``role.assigned``."""
    critical_since: datetime | None = None
    """The earliest ``incident.declared``/``updated`` that set severity critical."""

    def earliest(self, *event_types: str) -> datetime | None:
        """The earliest time of any event of these types, or ``None``."""
        times = [self.first_at[t] for t in event_types if t in self.first_at]
        return min(times) if times else None


@dataclass(slots=True)
class _ItemFold:
    first_seen: EventKey
    title: tuple[EventKey, str | None] | None = None
    owner: tuple[EventKey, str | None] | None = None
    due: tuple[EventKey, str | None] | None = None
    completed_at: datetime | None = None
    from_mtm: bool = False

    def see(self, key: EventKey) -> None:
        self.first_seen = min(self.first_seen, key)

    def set_latest(self, name: str, key: EventKey, value: str | None) -> None:
        # The latest (time, id) event that *sent* the field wins, whatever the arrival order; an
        # explicit null clears it (e.g. a due date withdrawn by an update).
        current: tuple[EventKey, str | None] | None = getattr(self, name)
        if current is None or key > current[0]:
            setattr(self, name, (key, value))


@dataclass(slots=True)
class _VendorFold:
    name: tuple[EventKey, str]
    engaged_at: datetime | None = None
    committed_at: datetime | None = None
    due: tuple[EventKey, datetime] | None = None
    received_at: datetime | None = None


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


def _distinct(incident_id: str, events: Iterable[CloudEvent]) -> list[tuple[EventKey, CloudEvent]]:
    seen: set[str] = set()
    out: list[tuple[EventKey, CloudEvent]] = []
    for event in events:
        if event.subject != incident_id:
            # Mixing incidents would silently corrupt both incidents' escalations.
            raise ValueError(f"event {event.id!r} belongs to incident {event.subject!r}, not {incident_id!r}")
        if event.id in seen:
            continue
        seen.add(event.id)
        out.append(((event.occurred_at.astimezone(UTC), event.id), event))
    out.sort(key=lambda pair: pair[0])
    return out


def read_record(incident_id: str, events: Iterable[CloudEvent], *, timezone: tzinfo = UTC) -> IncidentRecord:
    """Read the facts reminders needs from the set of an incident's events.

    ``timezone`` is the organisation's time zone, used only to read plain-date action item dues
    (see :func:`due_moment`). Events are expected to have passed ingest's validation; one whose
    ``data`` does not fit its type is left out rather than blocking the whole incident's reminders.
    Raises ``ValueError`` for an event of another incident.
    """
    first_at: dict[str, datetime] = {}
    items: dict[str, _ItemFold] = {}
    vendors: dict[str, _VendorFold] = {}
    reschedules: list[datetime] = []
    roles: dict[str, tuple[EventKey, str]] = {}
    critical_since: datetime | None = None

    def item(item_id: str, key: EventKey) -> _ItemFold:
        fold = items.get(item_id)
        if fold is None:
            fold = items[item_id] = _ItemFold(first_seen=key)
        fold.see(key)
        return fold

    def vendor(name: str, key: EventKey) -> _VendorFold:
        fold = vendors.get(vendor_key(name))
        if fold is None:
            fold = vendors[vendor_key(name)] = _VendorFold(name=(key, name.strip()))
        elif key < fold.name[0]:
            fold.name = (key, name.strip())
        return fold

    for key, event in _distinct(incident_id, events):
        at = key[0]
        kind = event.type
        first_at.setdefault(kind, at)  # events are in (time, id) order: the first is the earliest
        try:
            if kind == EventType.ACTIONITEM_CREATED or kind == EventType.ACTIONITEM_UPDATED:
                change = (
                    ActionItemCreated.model_validate(event.data)
                    if kind == EventType.ACTIONITEM_CREATED
                    else ActionItemUpdated.model_validate(event.data)
                )
                fold = item(change.item_id, key)
                for name in ("title", "owner", "due"):
                    if name in change.model_fields_set:
                        fold.set_latest(name, key, getattr(change, name))
            elif kind == EventType.ACTIONITEM_COMPLETED:
                done = ActionItemCompleted.model_validate(event.data)
                fold = item(done.item_id, key)
                fold.completed_at = _earliest(fold.completed_at, at)
            elif kind == EventType.MTM_HELD:
                mtm = MtmHeld.model_validate(event.data)
                for index, mtm_item in enumerate(mtm.action_items or []):
                    fold = item(mtm_item_id(event.id, index), key)
                    fold.from_mtm = True
                    for name in ("title", "owner", "due"):
                        if name in mtm_item.model_fields_set:
                            fold.set_latest(name, key, getattr(mtm_item, name))
            elif kind == EventType.VENDOR_ENGAGED:
                engaged = VendorEngaged.model_validate(event.data)
                v = vendor(engaged.vendor, key)
                v.engaged_at = _earliest(v.engaged_at, at)
            elif kind == EventType.VENDOR_RCA_COMMITTED:
                committed = VendorRcaCommitted.model_validate(event.data)
                v = vendor(committed.vendor, key)
                v.committed_at = _earliest(v.committed_at, at)
                if v.due is None or key > v.due[0]:
                    v.due = (key, parse_rfc3339(committed.due).astimezone(UTC))
            elif kind == EventType.VENDOR_RCA_RECEIVED:
                received = VendorRcaReceived.model_validate(event.data)
                v = vendor(received.vendor, key)
                v.received_at = _earliest(v.received_at, at)
            elif kind == EventType.AFTERACTION_RESCHEDULED:
                reschedules.append(at)
            elif kind == EventType.ROLE_ASSIGNED:
                assigned = RoleAssigned.model_validate(event.data)
                roles[role_key(assigned.role)] = (key, assigned.person)  # (time, id) order: last wins
            elif kind in (EventType.INCIDENT_DECLARED, EventType.INCIDENT_UPDATED):
                if normalise_severity(event.data.get("severity")) == Severity.CRITICAL.value:
                    critical_since = _earliest(critical_since, at)
        except ValidationError:
            continue

    return IncidentRecord(
        incident_id=incident_id,
        first_at=first_at,
        action_items=tuple(_action_item(item_id, fold, timezone) for item_id, fold in sorted(items.items())),
        vendors=tuple(
            Vendor(
                name=fold.name[1],
                engaged_at=fold.engaged_at,
                rca_committed_at=fold.committed_at,
                rca_due_at=fold.due[1] if fold.due else None,
                rca_received_at=fold.received_at,
            )
            for fold in sorted(vendors.values(), key=lambda f: f.name[0])
        ),
        reschedules=tuple(reschedules),
        people={role: person for role, (_, person) in roles.items()},
        critical_since=critical_since,
    )


def _action_item(item_id: str, fold: _ItemFold, timezone: tzinfo) -> ActionItem:
    due = fold.due[1] if fold.due else None
    return ActionItem(
        item_id=item_id,
        first_seen_at=fold.first_seen[0],
        title=fold.title[1] if fold.title else None,
        owner=fold.owner[1] if fold.owner else None,
        due_at=due_moment(due, timezone) if due is not None else None,
        due_as_given=due,
        completed_at=fold.completed_at,
        from_mtm=fold.from_mtm,
    )
