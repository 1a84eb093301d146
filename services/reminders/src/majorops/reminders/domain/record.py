"""What reminders reads from one incident's events: the facts its obligations hang on.

The reading depends only on the *set* of events: each event id counts once (the first occurrence in
the given list wins, as in the event log, because the contract says the same id is the same event),
and every "earliest"/"latest" choice is a minimum/maximum over one total order — event time, then
event id. So the same events in any order give the same record. It is the shared reading of
:mod:`majorops.shared.record`: what each event type contributes is one row of
:data:`RECORD_READERS`, and a test checks that policy, reminders and reports read a record alike.

Rules that belong to policy (severity, deadlines, requirement) are *not* derived here; they come
from the decision. This module only reads what the obligation table of CONTRACT §4 needs beyond it:
which events meet an obligation and when, the action items, the vendors, the reschedules and who
holds each role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from pydantic import BaseModel

from majorops.shared.events import (
    ActionItemCompleted,
    ActionItemCreated,
    ActionItemUpdated,
    AfterActionRescheduled,
    CloudEvent,
    EventType,
    IncidentDeclared,
    IncidentUpdated,
    MtmHeld,
    RoleAssigned,
    Severity,
    VendorEngaged,
    VendorRcaCommitted,
    VendorRcaReceived,
    due_moment,
    mtm_item_id,
    parse_rfc3339,
)
from majorops.shared.record import (
    EventFold,
    EventKey,
    TypedEvent,
    distinct_events,
    earliest,
    event_key,
    in_event_order,
    latest,
    vendor_key,
)


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

    def set_sent(self, change: BaseModel, key: EventKey) -> None:
        # The latest (time, id) event that *sent* a field wins, whatever the arrival order; an
        # explicit null clears it (e.g. a due date withdrawn by an update).
        for name in ("title", "owner", "due"):
            if name in change.model_fields_set:
                setattr(self, name, latest(getattr(self, name), key, getattr(change, name)))


@dataclass(slots=True)
class _VendorFold:
    name: tuple[EventKey, str]
    engaged_at: datetime | None = None
    committed_at: datetime | None = None
    due: tuple[EventKey, datetime] | None = None
    received_at: datetime | None = None


@dataclass(slots=True)
class _RecordFold:
    """The running state of :func:`read_record` (what :data:`RECORD_READERS` writes)."""

    items: dict[str, _ItemFold] = field(default_factory=dict)
    vendors: dict[str, _VendorFold] = field(default_factory=dict)
    reschedules: list[datetime] = field(default_factory=list)
    roles: dict[str, tuple[EventKey, str]] = field(default_factory=dict)
    critical_since: datetime | None = None

    def item(self, item_id: str, key: EventKey) -> _ItemFold:
        fold = self.items.get(item_id)
        if fold is None:
            fold = self.items[item_id] = _ItemFold(first_seen=key)
        fold.first_seen = min(fold.first_seen, key)
        return fold

    def vendor(self, name: str, key: EventKey) -> _VendorFold:
        fold = self.vendors.get(vendor_key(name))
        if fold is None:
            fold = self.vendors[vendor_key(name)] = _VendorFold(name=(key, name.strip()))
        elif key < fold.name[0]:
            fold.name = (key, name.strip())
        return fold


def _action_item_changed(fold: _RecordFold, read: TypedEvent[ActionItemCreated | ActionItemUpdated]) -> None:
    fold.item(read.data.item_id, read.key).set_sent(read.data, read.key)


def _action_item_completed(fold: _RecordFold, read: TypedEvent[ActionItemCompleted]) -> None:
    item = fold.item(read.data.item_id, read.key)
    item.completed_at = earliest(item.completed_at, read.at)


def _mtm_held(fold: _RecordFold, read: TypedEvent[MtmHeld]) -> None:
    for index, mtm_item in enumerate(read.data.action_items or []):
        item = fold.item(mtm_item_id(read.event.id, index), read.key)
        item.from_mtm = True
        item.set_sent(mtm_item, read.key)


def _vendor_engaged(fold: _RecordFold, read: TypedEvent[VendorEngaged]) -> None:
    vendor = fold.vendor(read.data.vendor, read.key)
    vendor.engaged_at = earliest(vendor.engaged_at, read.at)


def _vendor_rca_committed(fold: _RecordFold, read: TypedEvent[VendorRcaCommitted]) -> None:
    vendor = fold.vendor(read.data.vendor, read.key)
    vendor.committed_at = earliest(vendor.committed_at, read.at)
    vendor.due = latest(vendor.due, read.key, parse_rfc3339(read.data.due).astimezone(UTC))


def _vendor_rca_received(fold: _RecordFold, read: TypedEvent[VendorRcaReceived]) -> None:
    vendor = fold.vendor(read.data.vendor, read.key)
    vendor.received_at = earliest(vendor.received_at, read.at)


def _after_action_rescheduled(fold: _RecordFold, read: TypedEvent[AfterActionRescheduled]) -> None:
    fold.reschedules.append(read.at)


def _role_assigned(fold: _RecordFold, read: TypedEvent[RoleAssigned]) -> None:
    role = role_key(read.data.role)
    fold.roles[role] = latest(fold.roles.get(role), read.key, read.data.person)


def _severity_set(fold: _RecordFold, read: TypedEvent[IncidentDeclared | IncidentUpdated]) -> None:
    if read.data.severity == Severity.CRITICAL:
        fold.critical_since = earliest(fold.critical_since, read.at)


RECORD_READERS: EventFold[_RecordFold] = EventFold(
    {
        EventType.ACTIONITEM_CREATED: _action_item_changed,
        EventType.ACTIONITEM_UPDATED: _action_item_changed,
        EventType.ACTIONITEM_COMPLETED: _action_item_completed,
        EventType.MTM_HELD: _mtm_held,
        EventType.VENDOR_ENGAGED: _vendor_engaged,
        EventType.VENDOR_RCA_COMMITTED: _vendor_rca_committed,
        EventType.VENDOR_RCA_RECEIVED: _vendor_rca_received,
        EventType.AFTERACTION_RESCHEDULED: _after_action_rescheduled,
        EventType.ROLE_ASSIGNED: _role_assigned,
        EventType.INCIDENT_DECLARED: _severity_set,
        EventType.INCIDENT_UPDATED: _severity_set,
    },
    # One event whose data does not fit its type is left out rather than blocking the whole
    # incident's reminders.
    skip_invalid=True,
)
"""What each event type contributes to the record beyond its time (every type's earliest time is
kept in :attr:`IncidentRecord.first_at`)."""


def read_record(incident_id: str, events: Iterable[CloudEvent], *, timezone: tzinfo = UTC) -> IncidentRecord:
    """Read the facts reminders needs from the set of an incident's events.

    ``timezone`` is the organisation's time zone, used only to read plain-date action item dues
    (see :func:`due_moment`). Events are expected to have passed ingest's validation; one whose
    ``data`` does not fit its type is left out rather than blocking the whole incident's reminders.
    Raises ``ValueError`` for an event of another incident.
    """
    first_at: dict[str, datetime] = {}
    fold = _RecordFold()
    for event in in_event_order(distinct_events(incident_id, events)):
        first_at.setdefault(event.type, event_key(event)[0])  # in (time, id) order: the first is the earliest
        RECORD_READERS.read(fold, event)
    return IncidentRecord(
        incident_id=incident_id,
        first_at=first_at,
        action_items=tuple(
            _action_item(item_id, item, timezone) for item_id, item in sorted(fold.items.items())
        ),
        vendors=tuple(
            Vendor(
                name=vendor.name[1],
                engaged_at=vendor.engaged_at,
                rca_committed_at=vendor.committed_at,
                rca_due_at=vendor.due[1] if vendor.due else None,
                rca_received_at=vendor.received_at,
            )
            for vendor in sorted(fold.vendors.values(), key=lambda v: v.name[0])
        ),
        reschedules=tuple(fold.reschedules),
        people={role: person for role, (_, person) in fold.roles.items()},
        critical_since=fold.critical_since,
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
