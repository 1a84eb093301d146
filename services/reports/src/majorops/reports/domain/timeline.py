"""The Learning Review's summary and timeline (CONTRACT §5), from the shared read model.

Pure. The review reads the incident as :mod:`majorops.shared.incident` reads it, like policy and
reminders do: one order (event ``time``, then event ``id``), so the outcome depends on the set of
events only. The stream sequence (arrival) a :class:`RecordedEvent` carries decides one thing: of
two bodies stored under one id, the first arrival is the event (the event log keeps the first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from majorops.shared.decisions import format_utc
from majorops.shared.events import (
    ActionItemCompleted,
    ActionItemCreated,
    ActionItemUpdated,
    AfterActionRescheduled,
    AfterActionScheduled,
    AlertFired,
    AlertResolved,
    CloudEvent,
    EventData,
    EventType,
    IncidentDeclared,
    IncidentUpdated,
    MilestoneLogged,
    MtmHeld,
    PhaseEntered,
    RoleAssigned,
    RootCauseIdentified,
    Severity,
    StatusPosted,
    TimelineLogged,
    TrackClosed,
    TrackOpened,
    VendorEngaged,
    VendorRcaCommitted,
    VendorRcaReceived,
    VendorResponded,
    parse_rfc3339,
)
from majorops.shared.incident import read_incident
from majorops.shared.incident.model import MIM, Incident
from majorops.shared.incident.order import event_key


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event of the incident record; ``arrival`` is its JetStream stream sequence."""

    event: CloudEvent
    arrival: int

    @property
    def occurred_at(self) -> datetime:
        return self.event.occurred_at


class ReviewStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


def in_record_order(events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
    """Each event once (same id = same event; its first arrival is kept), in the record's one order:
    event time, the type's life rank, then event id (:func:`~majorops.shared.incident.order.event_key`)."""
    first: dict[str, RecordedEvent] = {}
    for recorded in events:
        kept = first.get(recorded.event.id)
        if kept is None or recorded.arrival < kept.arrival:
            first[recorded.event.id] = recorded
    return sorted(first.values(), key=lambda r: event_key(r.event))


def recorded_events(events: Iterable[CloudEvent | RecordedEvent]) -> list[RecordedEvent]:
    """The events with their arrival order: a :class:`RecordedEvent` keeps its own, a bare
    :class:`CloudEvent` arrives at its position in ``events``."""
    return [
        item if isinstance(item, RecordedEvent) else RecordedEvent(event=item, arrival=position)
        for position, item in enumerate(events)
    ]


Readable = Incident | Iterable[CloudEvent | RecordedEvent]
"""What the review's parts read: the incident as read, or its events (read here)."""


def as_incident(record: Readable, incident_id: str | None = None) -> Incident:
    """The incident a part of the review reads: ``record`` itself, or what its events say (on a
    reused id, the first arrival is the event). No events and no ``incident_id``: an empty incident."""
    if isinstance(record, Incident):
        return record
    events = [r.event for r in in_record_order(recorded_events(record))]
    if not events:
        return Incident(incident_id or "")
    return read_incident(events, incident_id)


def review_status(record: Readable) -> ReviewStatus:
    """``published`` once a ``majorops.review.published`` event is in the record, else ``draft``."""
    published = as_incident(record).after_action.published_at is not None
    return ReviewStatus.PUBLISHED if published else ReviewStatus.DRAFT


# --- Timeline ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of the timeline: when, which type, a short factual text, which event."""

    at: datetime
    type: str
    text: str
    event_id: str

    def as_dict(self) -> dict[str, str]:
        return {"at": format_utc(self.at), "type": self.type, "text": self.text, "event_id": self.event_id}


def build_timeline(events: Iterable[RecordedEvent]) -> list[TimelineEntry]:
    """Every event of the incident once, in the record's one order (event time, then event id)."""
    return [
        TimelineEntry(
            at=recorded.occurred_at,
            type=recorded.event.short_type,
            text=describe_event(recorded.event),
            event_id=recorded.event.id,
        )
        for recorded in in_record_order(events)
    ]


_FIXED_TEXTS: Mapping[str, str] = {
    EventType.INCIDENT_CONFIRMED: "Incident confirmed",
    EventType.INCIDENT_MITIGATED: "Mitigation applied",
    EventType.INCIDENT_RESOLVED: "Recovery validated, incident resolved",
    EventType.INCIDENT_CLOSED: "Incident closed",
    EventType.AFTERACTION_DRAFT_DISTRIBUTED: "Learning Review draft distributed",
    EventType.AFTERACTION_HELD: "After Action held",
    EventType.REVIEW_PUBLISHED: "Learning Review published",
}


def describe_event(event: CloudEvent) -> str:
    """A short factual sentence built only from the event's type and data (no narrative)."""
    if event.type in _FIXED_TEXTS:
        return _FIXED_TEXTS[event.type]
    data = _typed_or_none(event)
    text = _describe_data(data) if data is not None else None
    # A deployment-added type has free-form data: say only what happened.
    return text or event.short_type.replace(".", " ").replace("_", " ").capitalize()


def _describe_data(d: EventData) -> str | None:
    match d:
        case AlertFired():
            details = [f"{d.customer_count} customers affected"] if d.customer_count is not None else []
            details += ["external impact"] if d.external_impact else []
            where = f" on {d.service}" if d.service else ""
            return f"Alert {d.alert_name} fired{where}" + (f" ({', '.join(details)})" if details else "")
        case AlertResolved():
            return f"Alert {d.alert_name} resolved"
        case IncidentDeclared():
            return f"Incident declared, {d.severity.value}: {d.title}"
        case IncidentUpdated():
            changes = [
                _field_text(name, getattr(d, name))
                for name in IncidentUpdated.model_fields
                if name in d.model_fields_set and getattr(d, name) is not None
            ]
            return "Incident updated: " + ", ".join(changes) if changes else "Incident updated"
        case PhaseEntered():
            return f"Phase {d.phase} entered" + (f" by {d.by}" if d.by else "")
        case RoleAssigned():
            return f"{d.person} assigned as {d.role}" + (f" on track {d.track}" if d.track else "")
        case TrackOpened():
            return f"Recovery track {d.track} opened" + (f", led by {d.lead}" if d.lead else "")
        case TrackClosed():
            return f"Recovery track {d.track} closed"
        case MilestoneLogged():
            return f"Milestone: {d.name}" + (f" ({d.audience})" if d.audience else "")
        case TimelineLogged():
            return d.text + (f" ({d.by})" if d.by else "")
        case StatusPosted():
            return f"{d.audience.capitalize()} status update: {d.text}"
        case VendorEngaged():
            sla = d.response_sla_minutes
            return f"Vendor {d.vendor} engaged" + (f" (response SLA {sla} min)" if sla is not None else "")
        case VendorResponded():
            return f"Vendor {d.vendor} responded"
        case VendorRcaCommitted():
            return f"Vendor {d.vendor} committed to an RCA by {_utc_text(d.due)}"
        case VendorRcaReceived():
            return f"RCA received from vendor {d.vendor}" + (f": {d.url}" if d.url else "")
        case RootCauseIdentified():
            return f"Root cause identified: {d.summary or d.fingerprint}"
        case MtmHeld():
            count = len(d.action_items or [])
            return "Major Technical Meeting held" + (f" ({count} action items)" if count else "")
        case AfterActionScheduled():
            return f"After Action scheduled for {_utc_text(d.meeting_at)}"
        case AfterActionRescheduled():
            reason = f": {d.reason.strip()}" if d.reason and d.reason.strip() else ""
            return f"After Action rescheduled to {_utc_text(d.meeting_at)}{reason}"
        case ActionItemCreated() | ActionItemUpdated():
            verb = "created" if isinstance(d, ActionItemCreated) else "updated"
            extras = [f"{name} {value}" for name, value in (("owner", d.owner), ("due", d.due)) if value]
            title = f": {d.title}" if d.title else ""
            return f"Action item {d.item_id} {verb}{title}" + (f" ({', '.join(extras)})" if extras else "")
        case ActionItemCompleted():
            return f"Action item {d.item_id} completed"
    return None


def _field_text(name: str, value: Any) -> str:
    label = name.replace("_", " ")
    if isinstance(value, bool):
        return f"{label} {'yes' if value else 'no'}"
    if isinstance(value, Severity):
        return f"{label} {value.value}"
    if name == "title":
        return f"title “{value}”"
    return f"{label} {value}"


def _utc_text(value: str) -> str:
    return format_utc(parse_rfc3339(value))


# --- Summary ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentSummary:
    """Section 1 of the Learning Review: what happened, how bad, how long, who led."""

    incident_id: str
    title: str | None
    severity: Severity | None
    duration_seconds: int | None
    customer_impact: bool | None
    affected_users: int | None
    revenue_exposure: int | float | None
    sla_status: str | None
    mim: str | None
    responders: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "title": self.title,
            "severity": self.severity.value if self.severity is not None else None,
            "duration_seconds": self.duration_seconds,
            "customer_impact": self.customer_impact,
            "affected_users": self.affected_users,
            "revenue_exposure": self.revenue_exposure,
            "sla_status": self.sla_status,
            "mim": self.mim,
            "responders": list(self.responders),
        }


def summary_of(incident: Incident) -> IncidentSummary:
    """The summary:

    - title, affected users, revenue exposure, SLA status: the latest value sent (``null`` clears);
    - severity: the highest the incident ever had, so a late downgrade cannot hide how bad it was;
    - customer impact: true once any signal says so, false when only "no impact" was recorded,
      ``None`` when nothing was recorded (that gap is a finding of its own);
    - MIM: the person of the latest ``role.assigned`` with role ``mim``;
    - responders: every person the record shows acting, in order of first appearance.
    """
    impact = incident.impact
    return IncidentSummary(
        incident_id=incident.incident_id,
        title=incident.title,
        severity=incident.severity,
        duration_seconds=incident.duration_seconds,
        customer_impact=impact.customer_impact,
        affected_users=impact.affected_users,
        revenue_exposure=impact.revenue_exposure,
        sla_status=impact.sla_status,
        mim=incident.roles.get(MIM),
        responders=incident.responders,
    )


def summarize_incident(incident_id: str, record: Readable) -> IncidentSummary:
    """:func:`summary_of` the incident's events (or the incident as read)."""
    return summary_of(as_incident(record, incident_id))


def incident_duration_seconds(record: Readable) -> int | None:
    """From the earliest alert/confirmation/declaration to ``incident.resolved`` (else
    ``incident.closed``), the same fact policy publishes
    (:attr:`~majorops.shared.incident.model.Incident.duration_seconds`)."""
    return as_incident(record).duration_seconds


def _typed_or_none(event: CloudEvent) -> EventData | None:
    try:
        return event.typed_data()
    except ValidationError:
        return None
