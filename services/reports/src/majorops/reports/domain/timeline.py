"""The incident record folded into a Learning Review's summary and timeline (CONTRACT §5).

Pure: takes the incident's events with their arrival order and returns values. "Latest" always
means latest by event ``time`` (ties by arrival), so the outcome depends on the set of events and
not on the order they were delivered in, apart from the tie-break the contract names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from majorops.shared.decisions import format_utc
from majorops.shared.events import (
    SEVERITY_RANK,
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
from majorops.shared.record import EventFold, Reader, StateT, TypedEvent

MIM_ROLE = "mim"

DURATION_START_TYPES = frozenset(
    {EventType.ALERT_FIRED, EventType.INCIDENT_CONFIRMED, EventType.INCIDENT_DECLARED}
)
"""The duration runs from the earliest of these (CONTRACT §3, the same fact policy derives)."""


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event of the incident record; ``arrival`` is its JetStream stream sequence."""

    event: CloudEvent
    arrival: int

    @property
    def occurred_at(self) -> datetime:
        return self.event.occurred_at


def review_fold(readers: Mapping[str, Reader[StateT]]) -> EventFold[StateT]:
    """A fold of the incident record into a part of the review: one row per event type read, and an
    event whose data does not fit its type left out, so the review still shows everything else."""
    return EventFold(readers, skip_invalid=True)


class ReviewStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


def in_record_order(events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
    """Each event once (same id = same event; its first arrival is kept), by event time, ties by arrival."""
    first: dict[str, RecordedEvent] = {}
    for recorded in events:
        kept = first.get(recorded.event.id)
        if kept is None or recorded.arrival < kept.arrival:
            first[recorded.event.id] = recorded
    # The event id only breaks ties of time and arrival in hand-built records; it keeps the order total.
    return sorted(first.values(), key=lambda r: (r.occurred_at, r.arrival, r.event.id))


def review_status(events: Iterable[RecordedEvent]) -> ReviewStatus:
    """``published`` once a ``majorops.review.published`` event is in the record, else ``draft``."""
    published = any(r.event.type == EventType.REVIEW_PUBLISHED for r in events)
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
    """Every event of the incident once, sorted by event time (ties by arrival)."""
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


@dataclass
class _SummaryFold:
    """The running state of :func:`summarize_incident` (what :data:`SUMMARY_READERS` writes)."""

    latest: dict[str, Any] = field(default_factory=dict)
    severities: list[Severity] = field(default_factory=list)
    impact_signals: list[bool] = field(default_factory=list)
    mim: str | None = None
    responders: dict[str, None] = field(default_factory=dict)


_LATEST_FACTS = ("title", "affected_users", "revenue_exposure", "sla_status")


def _incident_facts(fold: _SummaryFold, read: TypedEvent[IncidentDeclared | IncidentUpdated]) -> None:
    for name in _LATEST_FACTS:
        value = getattr(read.data, name)
        if value is not None:
            fold.latest[name] = value
    if read.data.severity is not None:
        fold.severities.append(read.data.severity)
    if read.data.customer_impact is not None:
        fold.impact_signals.append(read.data.customer_impact)


def _alert_fired(fold: _SummaryFold, read: TypedEvent[AlertFired]) -> None:
    if read.data.customer_count is not None:
        fold.impact_signals.append(read.data.customer_count > 0)
    if read.data.external_impact is not None:
        fold.impact_signals.append(read.data.external_impact)


def _role_assigned(fold: _SummaryFold, read: TypedEvent[RoleAssigned]) -> None:
    fold.responders.setdefault(read.data.person.strip())
    if read.data.role.strip().lower() == MIM_ROLE:
        fold.mim = read.data.person.strip()


def _track_opened(fold: _SummaryFold, read: TypedEvent[TrackOpened]) -> None:
    if read.data.lead is not None:
        fold.responders.setdefault(read.data.lead.strip())


SUMMARY_READERS: EventFold[_SummaryFold] = review_fold(
    {
        EventType.INCIDENT_DECLARED: _incident_facts,
        EventType.INCIDENT_UPDATED: _incident_facts,
        EventType.ALERT_FIRED: _alert_fired,
        EventType.ROLE_ASSIGNED: _role_assigned,
        EventType.TRACK_OPENED: _track_opened,
    }
)
"""What each event type contributes to the summary (read in record order: the last value wins)."""


def summarize_incident(incident_id: str, events: Iterable[RecordedEvent]) -> IncidentSummary:
    """Fold the record into the summary.

    - title, affected users, revenue exposure, SLA status: the latest value declared or updated;
    - severity: the highest the incident ever had, so a late downgrade cannot hide how bad it was;
    - customer impact: true once any signal says so (an alert with customers or external impact,
      or ``customer_impact`` declared/updated true), false when only "no impact" was recorded,
      ``None`` when nothing was recorded (that gap is a finding of its own);
    - MIM: the person of the latest ``role.assigned`` with role ``mim``;
    - responders: every distinct person assigned a role or leading a track, in order of appearance.
    """
    ordered = in_record_order(events)
    fold = SUMMARY_READERS.read_all(_SummaryFold(), (recorded.event for recorded in ordered))
    return IncidentSummary(
        incident_id=incident_id,
        title=fold.latest.get("title"),
        severity=max(fold.severities, key=SEVERITY_RANK.__getitem__) if fold.severities else None,
        duration_seconds=incident_duration_seconds(ordered),
        customer_impact=any(fold.impact_signals) if fold.impact_signals else None,
        affected_users=fold.latest.get("affected_users"),
        revenue_exposure=fold.latest.get("revenue_exposure"),
        sla_status=fold.latest.get("sla_status"),
        mim=fold.mim,
        responders=tuple(fold.responders),
    )


def incident_duration_seconds(events: Iterable[RecordedEvent]) -> int | None:
    """From the earliest alert/confirmation/declaration to ``incident.resolved`` (else ``incident.closed``).

    ``None`` while the incident is open or has no start. The same fact policy publishes in its
    decision: the earliest resolution (else closure) counts, whole seconds are rounded up (so the
    number is over 7200 exactly when the incident lasted strictly over 2 h), and an end stamped
    before the start (a clock problem at the source) gives 0, never a negative duration.
    """
    ordered = list(events)
    starts = [r.occurred_at for r in ordered if r.event.type in DURATION_START_TYPES]
    ends = _times_of(ordered, EventType.INCIDENT_RESOLVED) or _times_of(ordered, EventType.INCIDENT_CLOSED)
    if not starts or not ends:
        return None
    elapsed = max(min(ends) - min(starts), timedelta(0))
    return -(-(elapsed // timedelta(microseconds=1)) // 1_000_000)


def _times_of(events: Sequence[RecordedEvent], event_type: str) -> list[datetime]:
    return [r.occurred_at for r in events if r.event.type == event_type]


def _typed_or_none(event: CloudEvent) -> EventData | None:
    try:
        return event.typed_data()
    except ValidationError:
        return None
