"""What each event type says about an incident: one row per type in :data:`READERS`.

A reader writes an event's typed data into the :class:`~.state.IncidentState`; it must be a
commutative fold (see :mod:`majorops.shared.incident.state`), so it never looks at what came
"before" in arrival order. Types without a row (``incident.confirmed``, deployment-added types…)
still count by their time in :attr:`~.model.Incident.first_at`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from majorops.shared import events as ev
from majorops.shared.events import CloudEvent, EventData, EventType, mtm_item_id, parse_rfc3339
from majorops.shared.incident.model import (
    ITEM_FIELDS,
    SME,
    TRACK_LEAD,
    VENDOR_REPRESENTATIVE,
    Alert,
    ItemChange,
    ItemChangeKind,
    ItemOrigin,
    Mtm,
    Reschedule,
    StatusUpdate,
    frozen_mapping,
)
from majorops.shared.incident.order import EventKey, event_key, role_key, vendor_key
from majorops.shared.incident.state import IncidentState, Latest, VendorState, earliest

DataT = TypeVar("DataT", bound=EventData, covariant=True)


@dataclass(frozen=True, slots=True)
class TypedEvent(Generic[DataT]):
    """One event with its ``data`` read through its type's model."""

    event: CloudEvent
    data: DataT

    @property
    def at(self) -> datetime:
        """When it happened, in UTC."""
        return self.event.occurred_at.astimezone(UTC)

    @property
    def key(self) -> EventKey:
        """Its place in the record's one order."""
        return event_key(self.event)


Reader = Callable[[IncidentState, TypedEvent[Any]], None]


# --- the incident --------------------------------------------------------------------------------

_LATEST_FACTS = ("title", "affected_users", "revenue_exposure", "sla_status")


def _incident_facts(state: IncidentState, read: TypedEvent[ev.IncidentDeclared | ev.IncidentUpdated]) -> None:
    for name in _LATEST_FACTS:
        if name in read.data.model_fields_set:
            state.fact(name, read.key, getattr(read.data, name))
    state.raise_severity(read.data.severity, read.at)
    state.impact(read.data.customer_impact)
    state.exposure(read.data.regulatory_exposure)


def _alert_fired(state: IncidentState, read: TypedEvent[ev.AlertFired]) -> None:
    data = read.data
    state.alerts.append(
        Alert(
            event_id=read.event.id,
            at=read.at,
            name=data.alert_name.strip(),
            service=data.service.strip() if data.service else None,
            customer_count=data.customer_count,
            external_impact=data.external_impact,
        )
    )
    state.impact(data.customer_count > 0 if data.customer_count is not None else None)
    state.impact(data.external_impact)


def _root_cause(state: IncidentState, read: TypedEvent[ev.RootCauseIdentified]) -> None:
    fingerprint = read.data.fingerprint
    state.fingerprint_first_seen[fingerprint] = earliest(
        state.fingerprint_first_seen.get(fingerprint), read.at
    )
    state.root_cause.offer(read.key, read.data)


def _status_posted(state: IncidentState, read: TypedEvent[ev.StatusPosted]) -> None:
    state.status_updates.append(StatusUpdate(read.at, read.event.id, read.data.audience, read.data.text))


# --- people and tracks ---------------------------------------------------------------------------


def _role_assigned(state: IncidentState, read: TypedEvent[ev.RoleAssigned]) -> None:
    role, person, track = role_key(read.data.role), read.data.person.strip(), read.data.track
    state.roles.setdefault(role, Latest[str]()).offer(read.key, person)
    state.acting(person, read.key)
    if role == VENDOR_REPRESENTATIVE:
        # Which vendor? An explicit extra ``vendor`` field, else the ``track`` named after it.
        target = (read.data.model_extra or {}).get("vendor") or track
        if target:
            reps = state.vendor_representatives
            reps.setdefault(vendor_key(str(target)), Latest[str]()).offer(read.key, person)
        else:
            state.unattached_vendor_representative.offer(read.key, person)
    elif track and role == TRACK_LEAD:
        state.track(track).lead.offer(read.key, person)
    elif track and role == SME:
        smes = state.track(track).smes
        smes[person] = min(smes.get(person, read.key), read.key)


def _track_opened(state: IncidentState, read: TypedEvent[ev.TrackOpened]) -> None:
    track = state.track(read.data.track)
    track.opened = min(track.opened or read.key, read.key)
    if read.data.lead:
        track.lead.offer(read.key, read.data.lead.strip())
        state.acting(read.data.lead, read.key)


def _track_closed(state: IncidentState, read: TypedEvent[ev.TrackClosed]) -> None:
    track = state.track(read.data.track)
    track.closed_at = earliest(track.closed_at, read.at)


def _author(state: IncidentState, read: TypedEvent[ev.PhaseEntered | ev.TimelineLogged]) -> None:
    state.acting(read.data.by, read.key)


# --- vendors -------------------------------------------------------------------------------------


def _vendor(state: IncidentState, read: TypedEvent[Any]) -> VendorState:
    name: str = read.data.vendor
    return state.vendor(name, read.key, vendor_key(name))


def _vendor_engaged(state: IncidentState, read: TypedEvent[ev.VendorEngaged]) -> None:
    vendor = _vendor(state, read)
    vendor.engaged_at = earliest(vendor.engaged_at, read.at)
    if read.data.response_sla_minutes is not None:
        vendor.sla_minutes.offer(read.key, read.data.response_sla_minutes)


def _vendor_responded(state: IncidentState, read: TypedEvent[ev.VendorResponded]) -> None:
    vendor = _vendor(state, read)
    vendor.responded_at = earliest(vendor.responded_at, read.at)


def _vendor_rca_committed(state: IncidentState, read: TypedEvent[ev.VendorRcaCommitted]) -> None:
    vendor = _vendor(state, read)
    vendor.committed_at = earliest(vendor.committed_at, read.at)
    vendor.rca_due.offer(read.key, parse_rfc3339(read.data.due).astimezone(UTC))


def _vendor_rca_received(state: IncidentState, read: TypedEvent[ev.VendorRcaReceived]) -> None:
    vendor = _vendor(state, read)
    vendor.received_at = earliest(vendor.received_at, read.at)
    if read.data.url is not None and read.data.url.strip():
        vendor.url.offer(read.key, read.data.url)


# --- the After Action and its action items -------------------------------------------------------


def _scheduled(state: IncidentState, read: TypedEvent[ev.AfterActionScheduled]) -> None:
    state.scheduled_at = earliest(state.scheduled_at, read.at)
    state.meeting.offer(read.key, parse_rfc3339(read.data.meeting_at).astimezone(UTC))


def _rescheduled(state: IncidentState, read: TypedEvent[ev.AfterActionRescheduled]) -> None:
    meeting_at = parse_rfc3339(read.data.meeting_at).astimezone(UTC)
    state.meeting.offer(read.key, meeting_at)
    state.reschedules.append(Reschedule(read.at, read.event.id, meeting_at, read.data.reason))


def _change(
    state: IncidentState,
    read: TypedEvent[Any],
    item_id: str,
    kind: ItemChangeKind,
    sent: BaseModel | None = None,
    *,
    origin: ItemOrigin = "actionitem",
    index: int = 0,
) -> None:
    fields = {} if sent is None else {n: getattr(sent, n) for n in ITEM_FIELDS if n in sent.model_fields_set}
    change = ItemChange(kind, read.at, read.event.id, frozen_mapping(fields), origin)
    state.item(item_id, read.key, index).take(change, read.key)


def _mtm_held(state: IncidentState, read: TypedEvent[ev.MtmHeld]) -> None:
    items = read.data.action_items or []
    ids = tuple(mtm_item_id(read.event.id, index) for index in range(len(items)))
    state.mtms.append(Mtm(read.at, read.event.id, read.data.notes, ids))
    for index, (item_id, item) in enumerate(zip(ids, items, strict=True)):
        _change(state, read, item_id, "created", item, origin="mtm", index=index)


def _item_created(state: IncidentState, read: TypedEvent[ev.ActionItemCreated]) -> None:
    _change(state, read, read.data.item_id, "created", read.data)


def _item_updated(state: IncidentState, read: TypedEvent[ev.ActionItemUpdated]) -> None:
    _change(state, read, read.data.item_id, "updated", read.data)


def _item_completed(state: IncidentState, read: TypedEvent[ev.ActionItemCompleted]) -> None:
    _change(state, read, read.data.item_id, "completed")


READERS: Mapping[str, Reader] = {
    EventType.ALERT_FIRED: _alert_fired,
    EventType.INCIDENT_DECLARED: _incident_facts,
    EventType.INCIDENT_UPDATED: _incident_facts,
    EventType.PHASE_ENTERED: _author,
    EventType.ROLE_ASSIGNED: _role_assigned,
    EventType.TRACK_OPENED: _track_opened,
    EventType.TRACK_CLOSED: _track_closed,
    EventType.TIMELINE_LOGGED: _author,
    EventType.STATUS_POSTED: _status_posted,
    EventType.VENDOR_ENGAGED: _vendor_engaged,
    EventType.VENDOR_RESPONDED: _vendor_responded,
    EventType.VENDOR_RCA_COMMITTED: _vendor_rca_committed,
    EventType.VENDOR_RCA_RECEIVED: _vendor_rca_received,
    EventType.ROOTCAUSE_IDENTIFIED: _root_cause,
    EventType.MTM_HELD: _mtm_held,
    EventType.AFTERACTION_SCHEDULED: _scheduled,
    EventType.AFTERACTION_RESCHEDULED: _rescheduled,
    EventType.ACTIONITEM_CREATED: _item_created,
    EventType.ACTIONITEM_UPDATED: _item_updated,
    EventType.ACTIONITEM_COMPLETED: _item_completed,
}
"""What each event type says about the incident beyond its time: a new event type is a model in
:mod:`majorops.shared.events` and, when it says more than "this happened then", one row here."""
