"""The Learning Review document and its assembly from the incident record (CONTRACT §5).

"The Learning Review draft should be built from the incident record, not from memory." The
review is a pure function of the incident's events, the latest After Action decision, the
escalations fired so far and the narrative people wrote (root cause text, contributing factors,
what went well, what we are changing, learning statements). The narrative overrides what the
record says for those sections only; everything else is derived.

Order independence: events may be given in any order and with duplicates. The record is the
events deduplicated by ``id`` (the first arrival is kept) and sorted by event ``time``, ties by
arrival (:func:`majorops.reports.domain.timeline.in_record_order`). Every derived fact uses that
record, so the same set of events always yields the same review. The summary fold and the
timeline texts are the ones of :mod:`majorops.reports.domain.timeline`, extended here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from majorops.reports.domain.attendees import Attendees, choose_attendees
from majorops.reports.domain.data_gaps import DataGap, find_data_gaps
from majorops.reports.domain.follow_up import (
    AlertFire,
    EarlierRecord,
    EarlierReview,
    EffectivenessFinding,
    alert_fires_in,
    link_earlier_reviews,
    possibly_ineffective,
)
from majorops.reports.domain.lint import LintFinding, lint_learning_review
from majorops.reports.domain.metrics import Metrics, compute_metrics
from majorops.reports.domain.timeline import (
    RecordedEvent,
    ReviewStatus,
    build_timeline,
    in_record_order,
    review_status,
    summarize_incident,
)
from majorops.reports.domain.vendors import VendorRecord, summarise_vendors
from majorops.shared.decisions import AfterActionDecision, Deadlines, Reason, Requirement, UtcTime
from majorops.shared.escalations import Escalation, Notify
from majorops.shared.events import (
    SEVERITY_RANK,
    CloudEvent,
    DueDate,
    EventType,
    Severity,
    mtm_item_id,
    parse_rfc3339,
)

ActionItemStatus = Literal["open", "completed"]

# The OpenAPI schemas of what people send say exactly what the validators accept, so that a
# client (or a test generated from the schema) that follows the schema is never refused.
DueDateField = Annotated[
    DueDate,
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"format": "date-time"}, {"format": "date"}],
            "description": "RFC 3339 time with an offset, or a YYYY-MM-DD date (end of that day)",
        }
    ),
]
"""A due date as people send it: an RFC 3339 timestamp, or a plain date."""

_FROZEN = ConfigDict(frozen=True)


# --- the document ---------------------------------------------------------------------------


class Summary(BaseModel):
    """1. Incident Summary: what happened, how bad, who led it."""

    model_config = _FROZEN

    title: str | None = None
    severity: Severity | None = None
    """The highest severity the incident ever had, as policy judges it."""
    duration_seconds: int | None = None
    customer_impact: bool | None = None
    """``None`` when the record holds no customer impact data at all."""
    affected_users: int | None = None
    revenue_exposure: int | float | None = None
    sla_status: str | None = None
    regulatory_exposure: bool | None = None
    mim: str | None = None
    responders: list[str] = Field(default_factory=list)
    """Every person the record names as acting in the incident, in order of first appearance."""


class TimelineEntry(BaseModel):
    """2. Timeline: one event, timestamp and facts only."""

    model_config = _FROZEN

    at: UtcTime
    type: str
    text: str
    event_id: str


class AfterActionSection(BaseModel):
    """The After Action obligation (policy's decision) and where the meeting stands."""

    model_config = _FROZEN

    requirement: Requirement | None = None
    """``None`` until policy has decided."""
    reasons: list[Reason] = Field(default_factory=list)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    revision: int | None = None
    repeat_of: list[str] = Field(default_factory=list)
    meeting_at: UtcTime | None = None
    reschedules: int = 0
    draft_distributed_at: UtcTime | None = None
    held_at: UtcTime | None = None


class RootCause(BaseModel):
    """3. Root Cause: the technical finding and its contributing factors."""

    model_config = _FROZEN

    text: str | None = None
    fingerprint: str | None = None
    contributing_factors: list[str] = Field(default_factory=list)
    vendor_related: bool | None = None


class Change(BaseModel):
    """5. What We Are Changing: one specific change, with an owner and a date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    owner: str | None = None
    due: DueDateField | None = None


class ActionItem(BaseModel):
    """7. Action Items: tracked with an owner, a due date and a status."""

    model_config = _FROZEN

    item_id: str
    title: str
    owner: str | None = None
    due: str | None = None
    """An RFC 3339 time or a plain ``YYYY-MM-DD`` date, as recorded."""
    status: ActionItemStatus = "open"
    source: Literal["actionitem", "mtm"] = "actionitem"
    completed_at: UtcTime | None = None


class EscalationEntry(BaseModel):
    """An escalation fired for the incident (CONTRACT §4), as the review lists it."""

    model_config = _FROZEN

    escalation_id: str
    kind: str
    level: int
    due_at: UtcTime
    fired_at: UtcTime
    item: str | None = None
    notify: Notify
    message: str
    late: bool = False
    """Fired more than one escalation interval after it fell due (history that arrived late)."""
    superseded_by: str | None = None
    """A higher level of the same obligation that fell due by the same moment (people got that one)."""


class Narrative(BaseModel):
    """The sections people write; each one set here replaces what the record says.

    ``None`` means "not edited": the section comes from the record (root cause summary and
    contributing factors of the latest ``rootcause.identified``; nothing for the others).
    """

    # An empty patch is refused ("needs at least one of …"); ``minProperties`` says so in the schema.
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"minProperties": 1})

    root_cause: str | None = None
    contributing_factors: list[str] | None = None
    went_well: list[str] | None = None
    changes: list[Change] | None = None
    learning_statements: list[str] | None = None


class LearningReview(BaseModel):
    """The Learning Review of one incident, in the JSON shape of CONTRACT §5."""

    model_config = _FROZEN

    incident_id: str
    status: ReviewStatus = ReviewStatus.DRAFT
    published_at: UtcTime | None = None
    summary: Summary = Field(default_factory=Summary)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    metrics: Metrics = Field(default_factory=Metrics)
    after_action: AfterActionSection = Field(default_factory=AfterActionSection)
    data_gaps: list[DataGap] = Field(default_factory=list)
    attendees: Attendees = Field(default_factory=Attendees)
    vendors: list[VendorRecord] = Field(default_factory=list)
    root_cause: RootCause = Field(default_factory=RootCause)
    went_well: list[str] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)
    learning_statements: list[str] = Field(default_factory=list)
    action_items: list[ActionItem] = Field(default_factory=list)
    escalations: list[EscalationEntry] = Field(default_factory=list)
    earlier_reviews: list[EarlierReview] = Field(default_factory=list)
    """For a repeat incident: the reviews of the earlier incidents with the same root cause."""
    effectiveness: list[EffectivenessFinding] = Field(default_factory=list)
    """After publication: completed action items whose alert fired again within 30 days."""
    lint: list[LintFinding] = Field(default_factory=list)


# --- the record -------------------------------------------------------------------------------


def recorded_events(events: Iterable[CloudEvent | RecordedEvent]) -> list[RecordedEvent]:
    """The events with their arrival order: a :class:`RecordedEvent` keeps its own, a bare
    :class:`CloudEvent` arrives at its position in ``events``."""
    return [
        item if isinstance(item, RecordedEvent) else RecordedEvent(event=item, arrival=position)
        for position, item in enumerate(events)
    ]


def _of(record: Iterable[CloudEvent], *types: str) -> list[CloudEvent]:
    return [event for event in record if event.type in types]


# --- 1. summary -------------------------------------------------------------------------------

_INCIDENT_FACTS = (EventType.INCIDENT_DECLARED, EventType.INCIDENT_UPDATED)


def _regulatory_exposure(record: Sequence[CloudEvent]) -> bool | None:
    # Ever exposed counts: security is invited even if a later update retracted the exposure.
    known = [
        event.data["regulatory_exposure"]
        for event in _of(record, *_INCIDENT_FACTS)
        if event.data.get("regulatory_exposure") is not None
    ]
    return any(flag is True for flag in known) if known else None


def record_persons(record: Iterable[CloudEvent]) -> list[str]:
    """Every person the record shows acting, in order of first appearance.

    Role holders, track leads, and the authors of phase transitions and timeline entries: all of
    them are responders, and none of them may be named in the root cause.
    """
    persons: list[str] = []
    for event in record:
        if event.type == EventType.ROLE_ASSIGNED:
            person = event.data.get("person")
        elif event.type == EventType.TRACK_OPENED:
            person = event.data.get("lead")
        elif event.type in (EventType.PHASE_ENTERED, EventType.TIMELINE_LOGGED):
            person = event.data.get("by")
        else:
            continue
        if isinstance(person, str) and person.strip() and person.strip() not in persons:
            persons.append(person.strip())
    return persons


def _summarise(
    incident_id: str,
    recorded: list[RecordedEvent],
    record: list[CloudEvent],
    decision: AfterActionDecision | None,
) -> Summary:
    folded = summarize_incident(incident_id, recorded)
    severity, duration, impact = folded.severity, folded.duration_seconds, folded.customer_impact
    if decision is not None:
        # Policy may have seen more (it judges across incidents); its view only ever strengthens ours.
        if decision.severity is not None and (
            severity is None or SEVERITY_RANK[decision.severity] > SEVERITY_RANK[severity]
        ):
            severity = decision.severity
        duration = duration if duration is not None else decision.duration_seconds
        impact = True if decision.customer_impact else impact
    return Summary(
        title=folded.title,
        severity=severity,
        duration_seconds=duration,
        customer_impact=impact,
        affected_users=folded.affected_users,
        revenue_exposure=folded.revenue_exposure,
        sla_status=folded.sla_status,
        regulatory_exposure=_regulatory_exposure(record),
        mim=folded.mim,
        responders=record_persons(record),
    )


# --- after action -----------------------------------------------------------------------------


def _after_action(record: Sequence[CloudEvent], decision: AfterActionDecision | None) -> AfterActionSection:
    meetings = _of(record, EventType.AFTERACTION_SCHEDULED, EventType.AFTERACTION_RESCHEDULED)
    drafts = _of(record, EventType.AFTERACTION_DRAFT_DISTRIBUTED)
    held = _of(record, EventType.AFTERACTION_HELD)
    common = {
        # The meeting is where the latest (re)schedule put it.
        "meeting_at": parse_rfc3339(meetings[-1].data["meeting_at"]) if meetings else None,
        "reschedules": len(_of(record, EventType.AFTERACTION_RESCHEDULED)),
        "draft_distributed_at": drafts[0].occurred_at if drafts else None,
        "held_at": held[0].occurred_at if held else None,
    }
    if decision is None:
        return AfterActionSection.model_validate(common)
    return AfterActionSection.model_validate(
        {
            **common,
            "requirement": decision.requirement,
            "reasons": decision.reasons,
            "deadlines": decision.deadlines,
            "revision": decision.revision,
            "repeat_of": decision.repeat_of,
        }
    )


# --- 3. root cause ----------------------------------------------------------------------------


def _root_cause(record: Sequence[CloudEvent], narrative: Narrative | None) -> RootCause:
    identified = _of(record, EventType.ROOTCAUSE_IDENTIFIED)
    # The latest identification stands: a root cause revised during the incident replaces the first.
    latest = identified[-1].data if identified else {}
    text = latest.get("summary")
    factors = [str(f) for f in latest.get("contributing_factors") or []]
    if narrative is not None and narrative.root_cause is not None:
        text = narrative.root_cause.strip() or None
    if narrative is not None and narrative.contributing_factors is not None:
        factors = [f.strip() for f in narrative.contributing_factors if f.strip()]
    vendor_related = latest.get("vendor_related")
    return RootCause(
        text=str(text) if text is not None else None,
        fingerprint=latest.get("fingerprint"),
        contributing_factors=factors,
        vendor_related=vendor_related if isinstance(vendor_related, bool) else None,
    )


# --- 7. action items --------------------------------------------------------------------------


@dataclass
class _ItemFold:
    item_id: str
    source: Literal["actionitem", "mtm"]
    title: str | None = None
    owner: str | None = None
    due: str | None = None
    completed_at: datetime | None = None


def collect_action_items(record: Iterable[CloudEvent]) -> list[ActionItem]:
    """Action items from ``actionitem.*`` and ``mtm.held``, in order of first appearance.

    ``record`` is in record order. An item is created by ``actionitem.created`` or by an item of
    an ``mtm.held`` (id from :func:`mtm_item_id`); the first creation wins, later updates replace
    the fields they carry, ``actionitem.completed`` completes it. An update or completion of an
    item never created still shows the item, titled by its id, rather than losing it.
    """
    items: dict[str, _ItemFold] = {}

    def item(item_id: str, source: Literal["actionitem", "mtm"] = "actionitem") -> _ItemFold:
        return items.setdefault(item_id, _ItemFold(item_id=item_id, source=source))

    created: set[str] = set()
    for event in record:
        d = event.data
        if event.type == EventType.MTM_HELD:
            for index, raw in enumerate(d.get("action_items") or []):
                item_id = mtm_item_id(event.id, index)
                if item_id not in created:
                    created.add(item_id)
                    fold = item(item_id, "mtm")
                    fold.source = "mtm"
                    fold.title, fold.owner, fold.due = raw.get("title"), raw.get("owner"), raw.get("due")
        elif event.type == EventType.ACTIONITEM_CREATED:
            item_id = str(d["item_id"])
            if item_id not in created:
                created.add(item_id)
                fold = item(item_id)
                fold.title, fold.owner, fold.due = d.get("title"), d.get("owner"), d.get("due")
        elif event.type == EventType.ACTIONITEM_UPDATED:
            fold = item(str(d["item_id"]))
            for key in ("title", "owner", "due"):
                if key in d:
                    setattr(fold, key, d[key])
        elif event.type == EventType.ACTIONITEM_COMPLETED:
            fold = item(str(d["item_id"]))
            if fold.completed_at is None:
                fold.completed_at = event.occurred_at
    return [
        ActionItem(
            item_id=fold.item_id,
            title=fold.title or fold.item_id,
            owner=fold.owner or None,
            due=fold.due or None,
            status="completed" if fold.completed_at is not None else "open",
            source=fold.source,
            completed_at=fold.completed_at,
        )
        for fold in items.values()
    ]


# --- escalations ------------------------------------------------------------------------------


def list_escalations(incident_id: str, escalations: Iterable[Escalation]) -> list[EscalationEntry]:
    """The incident's escalations once each (by ``escalation_id``), in the order they fired."""
    unique: dict[str, Escalation] = {}
    for escalation in escalations:
        if escalation.incident_id == incident_id:
            unique.setdefault(escalation.escalation_id, escalation)
    ordered = sorted(unique.values(), key=lambda e: (e.fired_at, e.escalation_id))
    return [
        EscalationEntry(
            escalation_id=e.escalation_id,
            kind=str(e.kind),
            level=e.level,
            due_at=e.due_at,
            fired_at=e.fired_at,
            item=e.item,
            notify=e.notify,
            message=e.message,
            late=e.late,
            superseded_by=e.superseded_by,
        )
        for e in ordered
    ]


# --- assembly ---------------------------------------------------------------------------------


def _incident_id(
    record: Sequence[CloudEvent], decision: AfterActionDecision | None, incident_id: str | None
) -> str:
    candidates = {event.incident_id for event in record}
    if incident_id is None:
        if len(candidates) > 1:
            raise ValueError(f"events of other incidents mixed in: {sorted(candidates)}")
        if candidates:
            return next(iter(candidates))
        if decision is None:
            raise ValueError("no event names the incident: pass incident_id")
        return decision.incident_id
    strangers = candidates - {incident_id}
    if strangers:
        raise ValueError(f"events of other incidents given for {incident_id}: {sorted(strangers)}")
    return incident_id


def assemble_learning_review(
    events: Sequence[CloudEvent | RecordedEvent],
    decision: AfterActionDecision | None,
    escalations: Iterable[Escalation],
    narrative: Narrative | None,
    *,
    incident_id: str | None = None,
    earlier: Mapping[str, EarlierRecord] | None = None,
    alert_fires: Iterable[AlertFire] = (),
) -> LearningReview:
    """Build the Learning Review of one incident, lint findings included.

    ``events`` are the incident's events, duplicates and any time order allowed: bare
    :class:`CloudEvent` in arrival order, or :class:`RecordedEvent` carrying their arrival (the
    stream sequence). ``incident_id`` is needed only when no event names the incident. Raises
    ``ValueError`` when the events belong to more than one incident.

    Beyond the incident's own record: ``earlier`` is what is known of the incidents the decision's
    ``repeat_of`` names (their reviews are linked); ``alert_fires`` are alert fires of any
    incident that may follow the completion of an action item (see
    :func:`~majorops.reports.domain.follow_up.possibly_ineffective`).
    """
    recorded = in_record_order(recorded_events(events))
    record = [r.event for r in recorded]
    review_of = _incident_id(record, decision, incident_id)
    summary = _summarise(review_of, recorded, record, decision)
    root_cause = _root_cause(record, narrative)
    published = _of(record, EventType.REVIEW_PUBLISHED)
    public_update = any(
        event.data.get("audience") == "public" for event in _of(record, EventType.STATUS_POSTED)
    )
    attendees = choose_attendees(
        record,
        customer_impact=summary.customer_impact is True,
        public_status_update=public_update,
        regulatory_exposure=summary.regulatory_exposure is True,
        vendor_related=root_cause.vendor_related is True,
    )
    edited = narrative or Narrative()
    status = review_status(recorded)
    action_items = collect_action_items(record)
    review = LearningReview(
        incident_id=review_of,
        status=status,
        published_at=published[0].occurred_at if published else None,
        summary=summary,
        timeline=[
            TimelineEntry(at=entry.at, type=entry.type, text=entry.text, event_id=entry.event_id)
            for entry in build_timeline(recorded)
        ],
        metrics=compute_metrics(record),
        after_action=_after_action(record, decision),
        data_gaps=find_data_gaps(record),
        attendees=attendees,
        vendors=summarise_vendors(record),
        root_cause=root_cause,
        went_well=_clean(edited.went_well),
        changes=list(edited.changes or []),
        learning_statements=_clean(edited.learning_statements),
        action_items=action_items,
        escalations=list_escalations(review_of, escalations),
        earlier_reviews=link_earlier_reviews(decision, earlier or {}),
        effectiveness=possibly_ineffective(
            review_of,
            action_items,
            alert_fires_in(record),
            [*alert_fires_in(record), *alert_fires],
            published=status == ReviewStatus.PUBLISHED,
        ),
    )
    return review.model_copy(update={"lint": lint_learning_review(review)})


def _clean(lines: list[str] | None) -> list[str]:
    return [line.strip() for line in lines or [] if line.strip()]


# --- words both renderers use ----------------------------------------------------------------

SECTION_TITLES: tuple[str, ...] = (
    "Incident Summary",
    "Timeline",
    "Root Cause",
    "What Went Well",
    "What We Are Changing",
    "Learning Statements",
    "Action Items",
)
"""The seed's seven numbered sections of the Learning Review, in order."""

GUIDING_QUESTION = (
    'The question is never "who made a mistake." '
    'The question is always "what did we learn, and what do we change?"'
)

DEADLINE_LABELS: tuple[tuple[str, str], ...] = (
    ("schedule_by", "After Action scheduled by"),
    ("hold_by", "After Action held by"),
    ("draft_due", "Draft distributed by"),
    ("publish_by", "Learning Review published by"),
    ("action_review_at", "Action items reviewed at"),
)

ROLE_LABELS: dict[str, str] = {
    "mim": "MIM (chair)",
    "technical_recovery_lead": "Technical recovery lead",
    "track_lead": "Track lead",
    "sme": "SME",
    "vendor_representative": "Vendor representative",
    "customer_comms_lead": "Customer communications lead",
    "security": "Security / compliance",
    "service_manager": "Service manager",
    "engineering_director": "Engineering director",
}


def role_label(role: str) -> str:
    """A role as people read it ("technical_recovery_lead" → "Technical recovery lead")."""
    return ROLE_LABELS.get(role, role.replace("_", " ").capitalize())


def format_when(value: datetime | None) -> str:
    """A time in UTC for readers (``2026-11-20 09:14:00 UTC``); ``—`` when unknown."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")
