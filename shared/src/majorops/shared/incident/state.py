"""The running state the readers of :mod:`majorops.shared.incident.readers` write, and its freezing
into an :class:`~majorops.shared.incident.model.Incident`.

Every part of the state is a commutative, idempotent fold: an earliest time is a minimum, a latest
value is the maximum over :data:`~majorops.shared.incident.order.EventKey`, a list is sorted by that
key when frozen, a flag is an "ever true". So events can be read one at a time in any order and the
result depends only on the set of events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from majorops.shared.events import SEVERITY_RANK, EventType, RootCauseIdentified, Severity, SlaStatus
from majorops.shared.incident.model import (
    ActionItem,
    AfterAction,
    Alert,
    Impact,
    Incident,
    ItemChange,
    ItemOrigin,
    Mtm,
    Reschedule,
    RootCause,
    StatusUpdate,
    Track,
    Vendor,
    frozen_mapping,
)
from majorops.shared.incident.order import EventKey

T = TypeVar("T")


@dataclass(slots=True)
class Latest(Generic[T]):
    """The value of the latest event (by :data:`EventKey`) that set it; ``None`` until one did."""

    kept: tuple[EventKey, T] | None = None

    def offer(self, key: EventKey, value: T) -> None:
        if self.kept is None or key > self.kept[0]:
            self.kept = (key, value)

    @property
    def value(self) -> T | None:
        return self.kept[1] if self.kept is not None else None


def earliest(current: datetime | None, candidate: datetime) -> datetime:
    """The earlier of a running earliest time (``None``: none yet) and a new one."""
    return candidate if current is None or candidate < current else current


def sooner_key(current: EventKey | None, candidate: EventKey) -> EventKey:
    return candidate if current is None or candidate < current else current


@dataclass(slots=True)
class ItemState:
    item_id: str
    first_seen: tuple[EventKey, int]
    """The earliest event naming the item, and the item's place in it (an MTM lists several)."""
    fields: dict[str, Latest[str | None]] = field(default_factory=dict)
    created_at: datetime | None = None
    origin: ItemOrigin = "actionitem"
    completed_at: datetime | None = None
    history: list[tuple[EventKey, ItemChange]] = field(default_factory=list)

    def take(self, change: ItemChange, key: EventKey) -> None:
        """One event of the item, at ``key`` (its event's place in the one order): each field it
        *sent* is set as of that key (``null`` clears)."""
        self.history.append((key, change))
        for name, value in change.sent.items():
            self.fields.setdefault(name, Latest()).offer(key, value)
        if change.kind == "created":
            self.created_at = earliest(self.created_at, change.at)
            if change.origin == "mtm":
                self.origin = "mtm"
        elif change.kind == "completed":
            self.completed_at = earliest(self.completed_at, change.at)

    def freeze(self) -> ActionItem:
        def sent(name: str) -> str | None:
            latest = self.fields.get(name)
            return latest.value if latest is not None else None

        return ActionItem(
            item_id=self.item_id,
            origin=self.origin,
            first_seen_at=self.first_seen[0][0],
            created_at=self.created_at,
            title=sent("title"),
            owner=sent("owner"),
            due=sent("due"),
            completed_at=self.completed_at,
            history=tuple(change for _key, change in sorted(self.history, key=lambda kc: kc[0])),
        )


@dataclass(slots=True)
class VendorState:
    name: Latest[str]
    """The name as first written (kept by the earliest key, see :meth:`IncidentState.vendor`)."""
    first_key: EventKey
    engaged_at: datetime | None = None
    responded_at: datetime | None = None
    sla_minutes: Latest[int] = field(default_factory=Latest)
    committed_at: datetime | None = None
    rca_due: Latest[datetime] = field(default_factory=Latest)
    received_at: datetime | None = None
    url: Latest[str] = field(default_factory=Latest)

    def freeze(self) -> Vendor:
        return Vendor(
            name=self.name.value or "",
            engaged_at=self.engaged_at,
            responded_at=self.responded_at,
            response_sla_minutes=self.sla_minutes.value,
            rca_committed_at=self.committed_at,
            rca_due=self.rca_due.value,
            rca_received_at=self.received_at,
            rca_url=self.url.value,
        )


@dataclass(slots=True)
class TrackState:
    name: str
    opened: EventKey | None = None
    closed_at: datetime | None = None
    lead: Latest[str] = field(default_factory=Latest)
    smes: dict[str, EventKey] = field(default_factory=dict)

    def freeze(self, opened: EventKey) -> Track:
        return Track(
            name=self.name,
            opened_at=opened[0],
            closed_at=self.closed_at,
            lead=self.lead.value,
            smes=tuple(sorted(self.smes, key=self.smes.__getitem__)),
        )


@dataclass(slots=True)
class IncidentState:
    """Everything read so far of one incident."""

    incident_id: str
    event_count: int = 0
    first_at: dict[str, datetime] = field(default_factory=dict)
    facts: dict[str, Latest[object]] = field(default_factory=dict)
    """``title``, ``affected_users``, ``revenue_exposure``, ``sla_status``: the latest value sent."""
    severity: Severity | None = None
    severity_since: dict[Severity, datetime] = field(default_factory=dict)
    customer_impact: bool | None = None
    regulatory_exposure: bool | None = None
    alerts: list[Alert] = field(default_factory=list)
    roles: dict[str, Latest[str]] = field(default_factory=dict)
    responders: dict[str, EventKey] = field(default_factory=dict)
    vendor_representatives: dict[str, Latest[str]] = field(default_factory=dict)
    unattached_vendor_representative: Latest[str] = field(default_factory=Latest)
    tracks: dict[str, TrackState] = field(default_factory=dict)
    status_updates: list[StatusUpdate] = field(default_factory=list)
    vendors: dict[str, VendorState] = field(default_factory=dict)
    root_cause: Latest[RootCauseIdentified] = field(default_factory=Latest)
    fingerprint_first_seen: dict[str, datetime] = field(default_factory=dict)
    mtms: list[Mtm] = field(default_factory=list)
    scheduled_at: datetime | None = None
    meeting: Latest[datetime] = field(default_factory=Latest)
    reschedules: list[Reschedule] = field(default_factory=list)
    items: dict[str, ItemState] = field(default_factory=dict)
    frozen_items: dict[str, ActionItem] = field(default_factory=dict)
    """Items already frozen and unchanged since (so freezing an incident costs only what changed)."""
    items_in_order: tuple[ActionItem, ...] | None = None
    in_order: dict[str, tuple[int, tuple[Any, ...]]] = field(default_factory=dict)
    """The append-only lists (alerts, status updates…) as last sorted, by their length then."""

    def raise_severity(self, severity: Severity | None, at: datetime) -> None:
        if severity is None:
            return
        self.severity_since[severity] = earliest(self.severity_since.get(severity), at)
        if self.severity is None or SEVERITY_RANK[severity] > SEVERITY_RANK[self.severity]:
            self.severity = severity

    def impact(self, signal: bool | None) -> None:
        if signal is not None:
            self.customer_impact = bool(self.customer_impact) or signal

    def exposure(self, signal: bool | None) -> None:
        if signal is not None:
            self.regulatory_exposure = bool(self.regulatory_exposure) or signal

    def fact(self, name: str, key: EventKey, value: object) -> None:
        self.facts.setdefault(name, Latest()).offer(key, value)

    def acting(self, person: str | None, key: EventKey) -> None:
        if person is not None and person.strip():
            self.responders[person.strip()] = sooner_key(self.responders.get(person.strip()), key)

    def track(self, name: str) -> TrackState:
        return self.tracks.setdefault(name, TrackState(name))

    def vendor(self, name: str, key: EventKey, vendor_key: str) -> VendorState:
        state = self.vendors.get(vendor_key)
        if state is None:
            state = self.vendors[vendor_key] = VendorState(name=Latest(), first_key=key)
        state.first_key = sooner_key(state.first_key, key)
        if state.name.kept is None or key < state.name.kept[0]:
            state.name.kept = (key, name.strip())
        return state

    def item(self, item_id: str, key: EventKey, index: int = 0) -> ItemState:
        self.frozen_items.pop(item_id, None)
        self.items_in_order = None
        state = self.items.get(item_id)
        if state is None:
            state = self.items[item_id] = ItemState(item_id, (key, index))
        state.first_seen = min(state.first_seen, (key, index))
        return state

    def freeze(self) -> Incident:
        """The incident as read so far; what did not change since the last call is not rebuilt."""
        return Incident(
            incident_id=self.incident_id,
            event_count=self.event_count,
            first_at=frozen_mapping(self.first_at),
            title=_str_or_none(self._fact("title")),
            severity=self.severity,
            severity_since=frozen_mapping(self.severity_since),
            impact=Impact(
                customer_impact=self.customer_impact,
                affected_users=_int_or_none(self._fact("affected_users")),
                revenue_exposure=_number_or_none(self._fact("revenue_exposure")),
                sla_status=_sla_or_none(self._fact("sla_status")),
                regulatory_exposure=self.regulatory_exposure,
            ),
            alerts=self._in_order("alerts", self.alerts),
            roles=_values(self.roles),
            responders=tuple(sorted(self.responders, key=self.responders.__getitem__)),
            vendor_representatives=_values(self.vendor_representatives),
            unattached_vendor_representative=self.unattached_vendor_representative.value,
            tracks=tuple(
                track.freeze(opened)
                for opened, track in sorted(
                    ((t.opened, t) for t in self.tracks.values() if t.opened is not None), key=lambda o: o[0]
                )
            ),
            status_updates=self._in_order("status_updates", self.status_updates),
            vendors=tuple(v.freeze() for v in sorted(self.vendors.values(), key=lambda v: v.first_key)),
            root_cause=self._root_cause(),
            mtms=self._in_order("mtms", self.mtms),
            after_action=AfterAction(
                scheduled_at=self.scheduled_at,
                meeting_at=self.meeting.value,
                reschedules=self._in_order("reschedules", self.reschedules),
                draft_distributed_at=self.first_at.get(EventType.AFTERACTION_DRAFT_DISTRIBUTED),
                held_at=self.first_at.get(EventType.AFTERACTION_HELD),
                published_at=self.first_at.get(EventType.REVIEW_PUBLISHED),
            ),
            action_items=self._action_items(),
        )

    def _in_order(self, name: str, appended: Sequence[_Dated]) -> tuple[Any, ...]:
        # These lists only grow, so an unchanged length is an unchanged list.
        cached = self.in_order.get(name)
        if cached is None or cached[0] != len(appended):
            cached = self.in_order[name] = (len(appended), tuple(sorted(appended, key=_dated_key)))
        return cached[1]

    def _action_items(self) -> tuple[ActionItem, ...]:
        if self.items_in_order is None:
            for item_id, item in self.items.items():
                if item_id not in self.frozen_items:
                    self.frozen_items[item_id] = item.freeze()
            items = sorted(self.items.values(), key=lambda i: (i.first_seen, i.item_id))
            self.items_in_order = tuple(self.frozen_items[i.item_id] for i in items)
        return self.items_in_order

    def _root_cause(self) -> RootCause | None:
        rc = self.root_cause.value
        if rc is None:
            return None
        return RootCause(
            fingerprint=rc.fingerprint,
            identified_at=self.fingerprint_first_seen[rc.fingerprint],
            summary=rc.summary,
            contributing_factors=tuple(rc.contributing_factors or ()),
            unusual=rc.unusual,
            vendor_related=rc.vendor_related,
        )

    def _fact(self, name: str) -> object:
        latest = self.facts.get(name)
        return latest.value if latest is not None else None


_Dated = Alert | StatusUpdate | Mtm | Reschedule


def _dated_key(value: _Dated) -> tuple[datetime, str]:
    return (value.at, value.event_id)


def _values(latest: Mapping[str, Latest[str]]) -> Mapping[str, str]:
    return frozen_mapping({name: value for name, kept in latest.items() if (value := kept.value) is not None})


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number_or_none(value: object) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _sla_or_none(value: object) -> SlaStatus | None:
    return value if value in ("met", "at_risk", "breached") else None
