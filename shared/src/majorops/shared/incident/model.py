"""The read model of one incident: what its record says, as immutable values (see
:mod:`majorops.shared.incident` for how events become these, and the rules every field follows).

All times are UTC. "Earliest" and "latest" are over the record's one order (event time, then event
id, :mod:`majorops.shared.incident.order`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal, TypeVar

from majorops.shared.events import EventType, Severity, SlaStatus

ItemOrigin = Literal["actionitem", "mtm"]
"""Where an action item was created: by ``actionitem.created``, or as an item of an ``mtm.held``."""
ItemChangeKind = Literal["created", "updated", "completed"]

ITEM_FIELDS = ("title", "owner", "due")
"""The fields of an action item that events set."""

MIM = "mim"
TRACK_LEAD = "track_lead"
SME = "sme"
VENDOR_REPRESENTATIVE = "vendor_representative"
"""Roles the read model interprets: a ``track_lead`` or ``sme`` with a ``track`` belongs to that
track; a ``vendor_representative`` to the vendor its extra ``vendor`` field (else its ``track``) names."""

K = TypeVar("K")
V = TypeVar("V")


def frozen_mapping(values: Mapping[K, V]) -> Mapping[K, V]:
    """A read-only copy of ``values`` (equal to a plain dict of the same items)."""
    return MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True)
class ItemChange:
    """One event of an action item's history: what it sent (``null`` included, which clears)."""

    kind: ItemChangeKind
    at: datetime
    event_id: str
    sent: Mapping[str, str | None] = field(default_factory=dict)
    """The item fields (:data:`ITEM_FIELDS`) the event carried, as sent."""
    origin: ItemOrigin = "actionitem"


@dataclass(frozen=True, slots=True)
class ActionItem:
    """An action item of the incident, with its full history."""

    item_id: str
    origin: ItemOrigin
    """``mtm`` when an ``mtm.held`` created it (its id from :func:`~majorops.shared.events.mtm_item_id`)."""
    first_seen_at: datetime
    """The time of the earliest event naming the item: when it came to exist for the record."""
    created_at: datetime | None
    """The earliest creation (``actionitem.created`` or ``mtm.held``); ``None`` when only updated."""
    title: str | None
    owner: str | None
    due: str | None
    """The ``due`` as sent: an RFC 3339 time or a plain ``YYYY-MM-DD`` date."""
    completed_at: datetime | None
    """The earliest ``actionitem.completed``; completion is terminal."""
    history: tuple[ItemChange, ...]
    """Every creation, update and completion, in event order."""

    @property
    def is_open(self) -> bool:
        return self.completed_at is None

    @property
    def label(self) -> str:
        """The title, or the id for an item whose title nobody sent (or cleared)."""
        return self.title or self.item_id


@dataclass(frozen=True, slots=True)
class Vendor:
    """One vendor of the incident, all its mentions matched by :func:`~.order.vendor_key`."""

    name: str
    """The name as first written (the earliest event naming the vendor), trimmed."""
    engaged_at: datetime | None = None
    responded_at: datetime | None = None
    response_sla_minutes: int | None = None
    """The latest SLA stated by a ``vendor.engaged`` (one without an SLA states none)."""
    rca_committed_at: datetime | None = None
    rca_due: datetime | None = None
    """The ``due`` of the latest ``vendor.rca_committed``: a revised date replaces the old one."""
    rca_received_at: datetime | None = None
    rca_url: str | None = None
    """The latest non-blank ``url`` of a ``vendor.rca_received``."""


@dataclass(frozen=True, slots=True)
class Track:
    """A recovery track opened during the incident."""

    name: str
    opened_at: datetime
    closed_at: datetime | None = None
    lead: str | None = None
    """The latest lead named (``track.opened``'s ``lead`` or a ``track_lead`` assigned to it)."""
    smes: tuple[str, ...] = ()
    """Every SME assigned to the track, in order of first assignment."""


@dataclass(frozen=True, slots=True)
class RootCause:
    """The latest ``rootcause.identified``."""

    fingerprint: str
    identified_at: datetime
    """When this fingerprint was first identified for the incident: a later re-confirmation must
    not make the incident look newer than one it preceded."""
    summary: str | None = None
    contributing_factors: tuple[str, ...] = ()
    unusual: bool | None = None
    vendor_related: bool | None = None


@dataclass(frozen=True, slots=True)
class Reschedule:
    at: datetime
    event_id: str
    meeting_at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Mtm:
    """A Major Technical Meeting held."""

    at: datetime
    event_id: str
    notes: str | None
    item_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AfterAction:
    scheduled_at: datetime | None = None
    meeting_at: datetime | None = None
    """Where the latest ``afteraction.scheduled``/``rescheduled`` put the meeting."""
    reschedules: tuple[Reschedule, ...] = ()
    draft_distributed_at: datetime | None = None
    held_at: datetime | None = None
    published_at: datetime | None = None
    """The earliest ``review.published``."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One ``alert.fired``."""

    event_id: str
    at: datetime
    name: str
    service: str | None = None
    customer_count: int | None = None
    external_impact: bool | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    at: datetime
    event_id: str
    audience: str
    text: str


@dataclass(frozen=True, slots=True)
class Impact:
    customer_impact: bool | None = None
    """True once any signal says so (an alert with customers or external impact, ``customer_impact``
    declared or updated true), false when only "no impact" was recorded, ``None`` when nothing was."""
    affected_users: int | None = None
    revenue_exposure: int | float | None = None
    sla_status: SlaStatus | None = None
    regulatory_exposure: bool | None = None
    """Ever exposed counts (true once any event says so), like ``customer_impact``."""


@dataclass(frozen=True, slots=True)
class Incident:
    """What the record of one incident says."""

    incident_id: str
    event_count: int = 0
    """Distinct events read (the same id counts once)."""
    first_at: Mapping[str, datetime] = field(default_factory=dict)
    """The earliest event time per event type, deployment-added types included."""
    title: str | None = None
    severity: Severity | None = None
    """The highest severity the incident ever had: a late downgrade cannot hide how bad it was."""
    severity_since: Mapping[Severity, datetime] = field(default_factory=dict)
    """When each severity was first declared or updated to."""
    impact: Impact = Impact()
    alerts: tuple[Alert, ...] = ()
    roles: Mapping[str, str] = field(default_factory=dict)
    """Role (as :func:`~.order.role_key`) → the person of its latest ``role.assigned``."""
    responders: tuple[str, ...] = ()
    """Every person the record shows acting (role holders, track leads, authors of phases and
    timeline entries), in order of first appearance."""
    vendor_representatives: Mapping[str, str] = field(default_factory=dict)
    """:func:`~.order.vendor_key` → the latest ``vendor_representative`` assigned for that vendor
    (named by an extra ``vendor`` field, else the ``track``)."""
    unattached_vendor_representative: str | None = None
    tracks: tuple[Track, ...] = ()
    """In order of opening."""
    status_updates: tuple[StatusUpdate, ...] = ()
    vendors: tuple[Vendor, ...] = ()
    """In order of first mention."""
    root_cause: RootCause | None = None
    mtms: tuple[Mtm, ...] = ()
    after_action: AfterAction = AfterAction()
    action_items: tuple[ActionItem, ...] = ()
    """In order of first mention (an MTM's items in the order it lists them)."""

    def earliest(self, *event_types: str) -> datetime | None:
        """The earliest time of any event of these types, or ``None``."""
        times = [self.first_at[t] for t in event_types if t in self.first_at]
        return min(times) if times else None

    @property
    def alerted_at(self) -> datetime | None:
        return self.earliest(EventType.ALERT_FIRED)

    @property
    def confirmed_at(self) -> datetime | None:
        return self.earliest(EventType.INCIDENT_CONFIRMED)

    @property
    def declared_at(self) -> datetime | None:
        return self.earliest(EventType.INCIDENT_DECLARED)

    @property
    def mitigated_at(self) -> datetime | None:
        return self.earliest(EventType.INCIDENT_MITIGATED)

    @property
    def resolved_at(self) -> datetime | None:
        return self.earliest(EventType.INCIDENT_RESOLVED)

    @property
    def closed_at(self) -> datetime | None:
        return self.earliest(EventType.INCIDENT_CLOSED)

    @property
    def started_at(self) -> datetime | None:
        """The earliest ``alert.fired``, ``incident.confirmed`` or ``incident.declared``."""
        return self.earliest(*DURATION_START_TYPES)

    @property
    def duration_seconds(self) -> int | None:
        """Start → resolved (else closed) in whole seconds rounded up (:func:`elapsed`,
        :func:`seconds_rounded_up`); ``None`` while open or with no start."""
        end = self.resolved_at or self.closed_at
        return seconds_rounded_up(elapsed(self.started_at, end))

    @property
    def open_action_items(self) -> tuple[ActionItem, ...]:
        return tuple(item for item in self.action_items if item.is_open)


DURATION_START_TYPES = (EventType.ALERT_FIRED, EventType.INCIDENT_CONFIRMED, EventType.INCIDENT_DECLARED)
"""The duration runs from the earliest of these (CONTRACT §3)."""


def elapsed(start: datetime | None, end: datetime | None) -> timedelta | None:
    """An incident's duration: ``None`` when either end is unknown, clamped at zero (an end stamped
    before the start is a data error, not a negative outage)."""
    if start is None or end is None:
        return None
    return max(end - start, timedelta(0))


def seconds_rounded_up(duration: timedelta | None) -> int | None:
    """A duration in whole seconds, rounded *up*: over 7200 exactly when it is strictly over 2 h
    (7200.4 s is over 2 h, and shows as 7201), so the published number agrees with the rules."""
    if duration is None:
        return None
    return -(-(duration // timedelta(microseconds=1)) // 1_000_000)
