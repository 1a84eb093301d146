"""The Learning Review's assembly from the incident record (CONTRACT §5).

"The Learning Review draft should be built from the incident record, not from memory." The
review is a pure function of the incident's events, the latest After Action decision, the
escalations fired so far and the narrative people wrote (root cause text, contributing factors,
what went well, what we are changing, learning statements). The narrative overrides what the
record says for those sections only; everything else is derived. The document's models are in
:mod:`majorops.reports.domain.document` (and importable from here too).

Order independence: events may be given in any order and with duplicates. The record is the
events deduplicated by ``id`` (the first arrival is kept) and sorted by event ``time``, ties by
arrival (:func:`majorops.reports.domain.timeline.in_record_order`). Every derived fact uses that
record, so the same set of events always yields the same review. The summary fold and the
timeline texts are the ones of :mod:`majorops.reports.domain.timeline`, extended here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from majorops.reports.domain.action_items import collect_action_items
from majorops.reports.domain.attendees import choose_attendees
from majorops.reports.domain.data_gaps import find_data_gaps
from majorops.reports.domain.document import (
    AfterActionSection,
    EscalationEntry,
    LearningReview,
    Narrative,
    RootCause,
    Summary,
    TimelineEntry,
)
from majorops.reports.domain.follow_up import (
    AlertFire,
    EarlierRecord,
    alert_fires_in,
    link_earlier_reviews,
    possibly_ineffective,
)
from majorops.reports.domain.lint import lint_learning_review
from majorops.reports.domain.metrics import compute_metrics
from majorops.reports.domain.timeline import (
    RecordedEvent,
    ReviewStatus,
    build_timeline,
    in_record_order,
    review_status,
    summarize_incident,
)
from majorops.reports.domain.vendors import summarise_vendors
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.events import SEVERITY_RANK, CloudEvent, EventType, parse_rfc3339

__all__ = [
    "PERSON_FIELDS",
    "assemble_learning_review",
    "list_escalations",
    "record_persons",
    "recorded_events",
]

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


PERSON_FIELDS: Mapping[str, str] = {
    EventType.ROLE_ASSIGNED: "person",
    EventType.TRACK_OPENED: "lead",
    EventType.PHASE_ENTERED: "by",
    EventType.TIMELINE_LOGGED: "by",
}
"""Where each event type names a person acting in the incident."""


def record_persons(record: Iterable[CloudEvent]) -> list[str]:
    """Every person the record shows acting, in order of first appearance.

    Role holders, track leads, and the authors of phase transitions and timeline entries: all of
    them are responders, and none of them may be named in the root cause.
    """
    persons: list[str] = []
    for event in record:
        if event.type not in PERSON_FIELDS:
            continue
        person = event.data.get(PERSON_FIELDS[event.type])
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


# --- escalations ------------------------------------------------------------------------------


def list_escalations(incident_id: str, escalations: Iterable[Escalation]) -> list[EscalationEntry]:
    """The incident's escalations once each (by ``escalation_id``), in the order they fired."""
    unique: dict[str, Escalation] = {}
    for escalation in escalations:
        if escalation.incident_id == incident_id:
            unique.setdefault(escalation.escalation_id, escalation)
    ordered = sorted(unique.values(), key=lambda e: (e.fired_at, e.escalation_id))
    return [EscalationEntry.model_validate(e, from_attributes=True) for e in ordered]


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
