"""What reminders reads of one incident: the facts its obligations hang on, as a function of the
shared read model (:mod:`majorops.shared.incident`) that policy and reports read too.

Rules that belong to policy (severity, deadlines, requirement) are *not* derived here; they come
from the decision. This module only keeps what the obligation table of CONTRACT §4 needs beyond it:
which events meet an obligation and when, the action items, the vendors, the reschedules and who
holds each role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from majorops.shared.events import CloudEvent, Severity, due_moment
from majorops.shared.incident import read_incident
from majorops.shared.incident.model import ActionItem as IncidentItem
from majorops.shared.incident.model import Incident


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
    """The ``due`` of the latest ``vendor.rca_committed`` (a revised date replaces the old one; two
    at one instant: the greater event id)."""
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
    """Role (as :func:`~majorops.shared.incident.order.role_key`) → the person of its latest ``role.assigned``."""
    critical_since: datetime | None = None
    """The earliest ``incident.declared``/``updated`` that set severity critical."""

    def earliest(self, *event_types: str) -> datetime | None:
        """The earliest time of any event of these types, or ``None``."""
        times = [self.first_at[t] for t in event_types if t in self.first_at]
        return min(times) if times else None


def read_record(incident_id: str, events: Iterable[CloudEvent], *, timezone: tzinfo = UTC) -> IncidentRecord:
    """Read the facts reminders needs from the set of an incident's events.

    ``timezone`` is the organisation's time zone, used only to read plain-date action item dues
    (see :func:`due_moment`). Raises ``ValueError`` for an event of another incident.
    """
    return record_of(read_incident(events, incident_id), timezone=timezone)


def record_of(incident: Incident, *, timezone: tzinfo = UTC) -> IncidentRecord:
    """What reminders' obligations read of the incident."""
    return IncidentRecord(
        incident_id=incident.incident_id,
        first_at=incident.first_at,
        action_items=tuple(
            _action_item(item, timezone) for item in sorted(incident.action_items, key=lambda i: i.item_id)
        ),
        vendors=tuple(
            Vendor(
                name=vendor.name,
                engaged_at=vendor.engaged_at,
                rca_committed_at=vendor.rca_committed_at,
                rca_due_at=vendor.rca_due,
                rca_received_at=vendor.rca_received_at,
            )
            for vendor in incident.vendors
        ),
        reschedules=tuple(r.at for r in incident.after_action.reschedules),
        people=incident.roles,
        critical_since=incident.severity_since.get(Severity.CRITICAL),
    )


def _action_item(item: IncidentItem, timezone: tzinfo) -> ActionItem:
    return ActionItem(
        item_id=item.item_id,
        first_seen_at=item.first_seen_at,
        title=item.title,
        owner=item.owner,
        due_at=due_moment(item.due, timezone) if item.due is not None else None,
        due_as_given=item.due,
        completed_at=item.completed_at,
        from_mtm=item.origin == "mtm",
    )
