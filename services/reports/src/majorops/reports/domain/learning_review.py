"""The Learning Review's assembly from the incident record (CONTRACT §5).

"The Learning Review draft should be built from the incident record, not from memory." The
review is a pure function of the incident's events, the latest After Action decision, the
escalations fired so far and the narrative people wrote (root cause text, contributing factors,
what went well, what we are changing, learning statements). The narrative overrides what the
record says for those sections only; everything else is derived. The document's models are in
:mod:`majorops.reports.domain.document` (and importable from here too).

Order independence: events may be given in any order and with duplicates. Every derived fact is a
function of the :class:`~majorops.shared.incident.model.Incident` the shared read model reads from
them — the one reading policy and reminders use — so the same set of events always yields the same
review, and the same facts as an escalation or a decision. The timeline lists the events in the
same one order (event time, then event id).
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
    recorded_events,
    review_status,
    summary_of,
)
from majorops.reports.domain.vendors import summarise_vendors
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.events import SEVERITY_RANK, CloudEvent
from majorops.shared.incident import read_incident
from majorops.shared.incident.model import Incident

__all__ = [
    "assemble_learning_review",
    "list_escalations",
]

# --- 1. summary -------------------------------------------------------------------------------


def _summarise(incident: Incident, decision: AfterActionDecision | None) -> Summary:
    folded = summary_of(incident)
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
        # Ever exposed counts: security is invited even if a later update retracted the exposure.
        regulatory_exposure=incident.impact.regulatory_exposure,
        mim=folded.mim,
        # Role holders, track leads, and the authors of phase transitions and timeline entries: all
        # of them are responders, and none of them may be named in the root cause.
        responders=list(incident.responders),
    )


# --- after action -----------------------------------------------------------------------------


def _after_action(incident: Incident, decision: AfterActionDecision | None) -> AfterActionSection:
    after_action = incident.after_action
    common = {
        # The meeting is where the latest (re)schedule put it.
        "meeting_at": after_action.meeting_at,
        "reschedules": len(after_action.reschedules),
        "draft_distributed_at": after_action.draft_distributed_at,
        "held_at": after_action.held_at,
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


def _root_cause(incident: Incident, narrative: Narrative | None) -> RootCause:
    # The latest identification stands: a root cause revised during the incident replaces the first.
    identified = incident.root_cause
    text = identified.summary if identified is not None else None
    factors = list(identified.contributing_factors) if identified is not None else []
    if narrative is not None and narrative.root_cause is not None:
        text = narrative.root_cause.strip() or None
    if narrative is not None and narrative.contributing_factors is not None:
        factors = [f.strip() for f in narrative.contributing_factors if f.strip()]
    return RootCause(
        text=text,
        fingerprint=identified.fingerprint if identified is not None else None,
        contributing_factors=factors,
        vendor_related=identified.vendor_related if identified is not None else None,
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
    incident = read_incident(record, review_of)
    summary = _summarise(incident, decision)
    root_cause = _root_cause(incident, narrative)
    attendees = choose_attendees(
        incident,
        customer_impact=summary.customer_impact is True,
        public_status_update=any(s.audience == "public" for s in incident.status_updates),
        regulatory_exposure=summary.regulatory_exposure is True,
        vendor_related=root_cause.vendor_related is True,
    )
    edited = narrative or Narrative()
    status = review_status(incident)
    action_items = collect_action_items(incident)
    fires = alert_fires_in(incident)
    review = LearningReview(
        incident_id=review_of,
        status=status,
        published_at=incident.after_action.published_at,
        summary=summary,
        timeline=[
            TimelineEntry(at=entry.at, type=entry.type, text=entry.text, event_id=entry.event_id)
            for entry in build_timeline(recorded)
        ],
        metrics=compute_metrics(incident),
        after_action=_after_action(incident, decision),
        data_gaps=find_data_gaps(incident),
        attendees=attendees,
        vendors=summarise_vendors(incident),
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
            fires,
            [*fires, *alert_fires],
            published=status == ReviewStatus.PUBLISHED,
        ),
    )
    return review.model_copy(update={"lint": lint_learning_review(review)})


def _clean(lines: list[str] | None) -> list[str]:
    return [line.strip() for line in lines or [] if line.strip()]
