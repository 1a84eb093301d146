"""Assembly of the Learning Review from the incident record (CONTRACT §5), pure functions only."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from typing import Any

import pytest

from majorops.reports.domain.data_gaps import DataGap, find_data_gaps
from majorops.reports.domain.document import Change, LearningReview, Narrative
from majorops.reports.domain.learning_review import assemble_learning_review
from majorops.reports.domain.metrics import compute_metrics, format_duration
from majorops.reports.domain.timeline import RecordedEvent
from majorops.reports.domain.vendors import summarise_vendors
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.events import CloudEvent, mtm_item_id
from majorops.shared.testing import EXAMPLE_INCIDENT as INCIDENT
from majorops.shared.testing import EXAMPLE_START as START
from majorops.shared.testing import LEARNING_REVIEW_KEYS, IncidentEvents, mandatory_decision

event = IncidentEvents(INCIDENT, content_ids=True)
at = event.time


def full_incident() -> list[CloudEvent]:
    """An incident whose record holds every fact the review needs (no data gaps)."""
    return [
        event(
            "alert.fired", 0, {"alert_name": "CheckoutLatency", "service": "checkout", "customer_count": 1200}
        ),
        event("incident.confirmed", 7),
        event(
            "incident.declared",
            12,
            {
                "title": "Checkout latency",
                "severity": "P1",
                "customer_impact": True,
                "affected_users": 1200,
                "revenue_exposure": 50000,
                "sla_status": "breached",
            },
        ),
        event("role.assigned", 13, {"role": "mim", "person": "Dana Reyes"}),
        event("role.assigned", 14, {"role": "technical_recovery_lead", "person": "@kpatel"}),
        event("phase.entered", 15, {"phase": "recovery", "by": "Dana Reyes"}),
        event("track.opened", 16, {"track": "database", "lead": "Lee Wong"}),
        event("role.assigned", 17, {"role": "sme", "person": "Ana Silva", "track": "database"}),
        event("milestone.logged", 20, {"name": "Executives informed", "audience": "exec"}),
        event("status.posted", 21, {"audience": "public", "text": "We are investigating slow checkouts"}),
        event("vendor.engaged", 25, {"vendor": "Acme Cloud", "response_sla_minutes": 30}),
        event("vendor.responded", 70, {"vendor": "Acme Cloud"}),
        event("incident.mitigated", 72),
        event("timeline.logged", 75, {"text": "Failover to replica started", "by": "Mo Chen"}),
        event(
            "rootcause.identified",
            90,
            {
                "fingerprint": "db-pool-exhaustion",
                "summary": "The incident was caused by connection pool exhaustion on the primary database.",
                "contributing_factors": ["Pool size was not re-tuned after the schema migration"],
                "vendor_related": False,
            },
        ),
        event("incident.resolved", 132),
        event("incident.closed", 180),
        event("vendor.rca_committed", 200, {"vendor": "Acme Cloud", "due": "2026-11-27T12:00:00Z"}),
    ]


def without(events: list[CloudEvent], *types: str) -> list[CloudEvent]:
    return [e for e in events if e.short_type not in types]


def review_of(events: list[CloudEvent], **kwargs: Any) -> Any:
    return assemble_learning_review(
        events, kwargs.get("decision"), kwargs.get("escalations", []), kwargs.get("narrative")
    )


# --- the document as a whole ------------------------------------------------------------------


def test_the_json_has_every_section_of_the_contract() -> None:
    doc = review_of(full_incident()).model_dump(mode="json")
    for key in LEARNING_REVIEW_KEYS:
        assert key in doc
    assert doc["incident_id"] == INCIDENT
    assert doc["status"] == "draft"
    assert doc["summary"] | {"responders": None} == {
        "title": "Checkout latency",
        "severity": "critical",
        "duration_seconds": 132 * 60,
        "customer_impact": True,
        "affected_users": 1200,
        "revenue_exposure": 50000,
        "sla_status": "breached",
        "regulatory_exposure": None,
        "mim": "Dana Reyes",
        "responders": None,
    }
    assert doc["summary"]["responders"] == ["Dana Reyes", "@kpatel", "Lee Wong", "Ana Silva", "Mo Chen"]
    assert doc["timeline"][0] == {
        "at": "2026-11-20T09:00:00Z",
        "type": "alert.fired",
        "text": doc["timeline"][0]["text"],
        "event_id": doc["timeline"][0]["event_id"],
    }
    assert "CheckoutLatency" in doc["timeline"][0]["text"]
    assert doc["metrics"] == {
        "ttd_seconds": 420,
        "time_to_declare_seconds": 300,
        "mttm_seconds": 3600,
        "mttr_seconds": 7200,
    }
    assert doc["root_cause"]["fingerprint"] == "db-pool-exhaustion"
    assert doc["data_gaps"] == []


def test_the_stored_json_loads_back_into_the_same_review() -> None:
    narrative = Narrative(root_cause="Dana Reyes restarted the pool.", changes=[Change(text="Add alert")])
    review = review_of(
        full_incident(),
        decision=decision(),
        escalations=[escalation("after_action_not_held", 2, 2000)],
        narrative=narrative,
    )
    assert review.lint
    assert LearningReview.model_validate_json(review.model_dump_json()) == review


def test_the_timeline_lists_every_event_once_in_time_order() -> None:
    events = full_incident()
    review = review_of(list(reversed(events)) + events[:3])
    assert [entry.event_id for entry in review.timeline] == [e.id for e in events]
    assert [entry.type for entry in review.timeline][:3] == [
        "alert.fired",
        "incident.confirmed",
        "incident.declared",
    ]


def test_out_of_order_and_duplicated_events_give_the_same_review() -> None:
    events = full_incident()
    expected = review_of(events).model_dump(mode="json")
    shuffler = random.Random(7)
    for _ in range(5):
        delivered = events + shuffler.sample(events, k=6)
        shuffler.shuffle(delivered)
        assert review_of(delivered).model_dump(mode="json") == expected


def test_same_time_events_are_ordered_by_event_id_whatever_the_arrival() -> None:
    # Decided in the shared read model (CONTRACT §1 "Reading an incident"): time, then event id;
    # arrival is not the same in every service, so it never orders anything.
    first = event("timeline.logged", 30, {"text": "Rolled back the deploy"}, event_id="ev-b")
    second = event("timeline.logged", 30, {"text": "Paged the database team"}, event_id="ev-a")
    for delivered in ([first, second], [second, first]):
        assert [e.text for e in review_of(delivered).timeline] == [
            "Paged the database team",
            "Rolled back the deploy",
        ]


def test_recorded_events_use_their_stream_sequence_only_to_pick_the_first_body_of_an_id() -> None:
    first = event("timeline.logged", 30, {"text": "A"}, event_id="ev-2")
    second = event("timeline.logged", 30, {"text": "B"}, event_id="ev-1")
    again = event("timeline.logged", 30, {"text": "B again"}, event_id="ev-1")
    review = assemble_learning_review(
        [RecordedEvent(again, arrival=12), RecordedEvent(second, arrival=9), RecordedEvent(first, arrival=3)],
        None,
        [],
        None,
    )
    assert [e.text for e in review.timeline] == ["B", "A"]


def test_a_duplicate_id_counts_once_even_with_different_content() -> None:
    original = event(
        "incident.declared", 12, {"title": "Checkout latency", "severity": "high"}, event_id="same"
    )
    replay = event("incident.declared", 12, {"title": "Something else", "severity": "low"}, event_id="same")
    review = review_of([original, replay])
    assert len(review.timeline) == 1
    assert review.summary.title == "Checkout latency"


def test_status_is_published_once_the_review_published_event_exists() -> None:
    assert review_of(full_incident()).status == "draft"
    published = review_of([*full_incident(), event("review.published", 3000)])
    assert published.status == "published"
    assert published.published_at == START + timedelta(minutes=3000)


def test_events_of_another_incident_are_refused() -> None:
    with pytest.raises(ValueError, match="other incidents"):
        review_of([*full_incident(), event("incident.confirmed", 5, incident="INC-9")])


def test_an_incident_with_no_events_yet_can_be_reviewed_by_id() -> None:
    review = assemble_learning_review([], None, [], None, incident_id="INC-7")
    assert review.incident_id == "INC-7"
    assert review.timeline == []
    assert review.data_gaps[0] == DataGap.NO_ALERT


def test_a_late_downgrade_does_not_soften_the_severity() -> None:
    events = [*full_incident(), event("incident.updated", 100, {"severity": "low"})]
    assert review_of(events).summary.severity == "critical"


def test_regulatory_exposure_counts_once_recorded() -> None:
    events = [
        event("incident.declared", 12, {"title": "T", "severity": "high", "regulatory_exposure": True}),
        event("incident.updated", 40, {"regulatory_exposure": False}),
    ]
    assert review_of(events).summary.regulatory_exposure is True
    retracted_first = [event("incident.updated", 5, {"regulatory_exposure": False}), events[0]]
    assert review_of(retracted_first).summary.regulatory_exposure is True
    assert review_of([event("incident.confirmed", 1)]).summary.regulatory_exposure is None


# --- after action, escalations ----------------------------------------------------------------


def decision(**extra: Any) -> AfterActionDecision:
    reasons = [{"rule": "critical_any_duration", "text": "Critical (P1) incident"}]
    fields = {"reasons": reasons, "duration_seconds": 7920, "customer_impact": True, **extra}
    return mandatory_decision(INCIDENT, 3, **fields)


def test_after_action_section_carries_the_decision_and_the_meeting() -> None:
    events = [
        *full_incident(),
        event("afteraction.scheduled", 600, {"meeting_at": "2026-11-24T14:00:00Z"}),
        event("afteraction.rescheduled", 700, {"meeting_at": "2026-11-25T15:00:00+01:00"}),
        event("afteraction.draft_distributed", 800),
    ]
    doc = review_of(events, decision=decision()).model_dump(mode="json")["after_action"]
    assert doc["requirement"] == "mandatory"
    assert doc["reasons"] == [{"rule": "critical_any_duration", "text": "Critical (P1) incident"}]
    assert doc["deadlines"] == {
        "schedule_by": "2026-11-21T12:00:00Z",
        "hold_by": "2026-11-27T12:00:00Z",
        "draft_due": None,
        "publish_by": None,
        "action_review_at": None,
    }
    assert doc["meeting_at"] == "2026-11-25T14:00:00Z"
    assert doc["reschedules"] == 1
    assert doc["draft_distributed_at"] == at(800)
    assert doc["held_at"] is None


def test_without_a_decision_the_requirement_is_not_known_yet() -> None:
    section = review_of(full_incident()).after_action
    assert section.requirement is None
    assert section.deadlines.schedule_by is None


def test_the_decision_strengthens_what_the_events_alone_say() -> None:
    events = [event("incident.declared", 12, {"title": "T", "severity": "high"})]
    review = review_of(events, decision=decision(severity="critical", customer_impact=True))
    assert review.summary.severity == "critical"
    assert review.summary.customer_impact is True
    assert review.summary.duration_seconds == 7920


def escalation(kind: str, level: int, fired_minutes: int, incident: str = INCIDENT) -> Escalation:
    return Escalation.model_validate(
        {
            "escalation_id": f"{incident}:{kind}:{level}",
            "incident_id": incident,
            "kind": kind,
            "level": level,
            "due_at": at(fired_minutes),
            "fired_at": at(fired_minutes),
            "notify": {"role": "mim", "person": "Dana Reyes"},
            "message": f"{kind} level {level}",
        }
    )


def test_escalations_are_listed_once_in_firing_order() -> None:
    late = escalation("after_action_not_held", 1, 9000)
    early = escalation("after_action_not_scheduled", 1, 1500)
    other = escalation("after_action_not_scheduled", 1, 1500, incident="INC-9")
    review = review_of(full_incident(), escalations=[late, early, late, other])
    assert [e.escalation_id for e in review.escalations] == [early.escalation_id, late.escalation_id]
    doc = review.model_dump(mode="json")["escalations"][0]
    assert doc["kind"] == "after_action_not_scheduled"
    assert doc["level"] == 1
    assert doc["fired_at"] == at(1500)


# --- narrative --------------------------------------------------------------------------------


def test_the_narrative_replaces_the_record_for_its_sections_only() -> None:
    narrative = Narrative(
        root_cause="The incident was caused by an untuned connection pool.",
        contributing_factors=["No saturation alert on the pool", "  "],
        went_well=["Failover runbook worked first time"],
        changes=[Change(text="Add pool saturation alert", owner="SRE lead", due="2026-12-01")],
        learning_statements=[
            "Runbook step 4 lacked the unreachable-primary case. SRE lead updating by 2026-12-01."
        ],
    )
    review = review_of(full_incident(), narrative=narrative)
    assert review.root_cause.text == "The incident was caused by an untuned connection pool."
    assert review.root_cause.contributing_factors == ["No saturation alert on the pool"]
    assert review.root_cause.fingerprint == "db-pool-exhaustion"
    assert review.went_well == ["Failover runbook worked first time"]
    assert review.changes[0].owner == "SRE lead"
    assert len(review.learning_statements) == 1


def test_without_a_narrative_the_root_cause_comes_from_the_latest_identification() -> None:
    events = [
        *full_incident(),
        event("rootcause.identified", 95, {"fingerprint": "dns-ttl", "summary": "Revised finding"}),
    ]
    review = review_of(events)
    assert review.root_cause.fingerprint == "dns-ttl"
    assert review.root_cause.text == "Revised finding"
    assert review.went_well == []
    assert review.changes == []


def test_a_narrative_change_with_a_free_text_date_is_refused() -> None:
    with pytest.raises(ValueError, match="due"):
        Change(text="Add alert", owner="SRE lead", due="next week")
    with pytest.raises(ValueError, match="extra"):
        Narrative.model_validate({"root_cuase": "typo"})


# --- action items -----------------------------------------------------------------------------


def test_action_items_follow_their_events() -> None:
    events = [
        event("actionitem.created", 300, {"item_id": "AI-7", "title": "Update runbook step 4"}),
        event("actionitem.updated", 310, {"item_id": "AI-7", "owner": "Dana Reyes", "due": "2026-12-01"}),
        event("actionitem.created", 320, {"item_id": "AI-8", "title": "Tune pool", "owner": "DB team"}),
        event("actionitem.completed", 400, {"item_id": "AI-8"}),
    ]
    doc = review_of(events).model_dump(mode="json")["action_items"]
    assert [{k: i[k] for k in ("item_id", "title", "owner", "due", "status")} for i in doc] == [
        {
            "item_id": "AI-7",
            "title": "Update runbook step 4",
            "owner": "Dana Reyes",
            "due": "2026-12-01",
            "status": "open",
        },
        {"item_id": "AI-8", "title": "Tune pool", "owner": "DB team", "due": None, "status": "completed"},
    ]
    assert doc[1]["completed_at"] == at(400)


def test_mtm_action_items_get_stable_ids_that_later_events_can_complete() -> None:
    mtm = event(
        "mtm.held",
        60,
        {"action_items": [{"title": "Page DBA on call", "owner": "MIM"}, {"title": "Prepare exec brief"}]},
        event_id="mtm-1",
    )
    first_id = mtm_item_id("mtm-1", 0)
    expected_first = "MTM-" + hashlib.sha256(b"mtm-1#0").hexdigest()[:10]
    assert first_id == expected_first
    assert mtm_item_id("mtm-1", 1) != first_id
    completed = event("actionitem.completed", 90, {"item_id": first_id})
    items = review_of([completed, mtm]).action_items
    assert [(i.item_id, i.title, i.status, i.source) for i in items] == [
        (first_id, "Page DBA on call", "completed", "mtm"),
        (mtm_item_id("mtm-1", 1), "Prepare exec brief", "open", "mtm"),
    ]


def test_an_update_for_an_item_never_created_still_shows_the_item() -> None:
    items = review_of([event("actionitem.updated", 10, {"item_id": "AI-9", "owner": "Ops"})]).action_items
    assert [(i.item_id, i.title, i.owner, i.status) for i in items] == [("AI-9", "AI-9", "Ops", "open")]


# --- metrics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dropped", "missing"),
    [
        ("alert.fired", {"ttd_seconds"}),
        ("incident.confirmed", {"ttd_seconds", "time_to_declare_seconds"}),
        ("incident.declared", {"time_to_declare_seconds", "mttm_seconds", "mttr_seconds"}),
        ("incident.mitigated", {"mttm_seconds"}),
        ("incident.resolved", {"mttr_seconds"}),
    ],
)
def test_a_metric_is_null_when_one_of_its_inputs_is_missing(dropped: str, missing: set[str]) -> None:
    full = {"ttd_seconds": 420, "time_to_declare_seconds": 300, "mttm_seconds": 3600, "mttr_seconds": 7200}
    metrics = compute_metrics(without(full_incident(), dropped)).model_dump()
    assert metrics == {name: (None if name in missing else value) for name, value in full.items()}


def test_metrics_measure_from_the_first_alert_and_the_first_of_each_milestone() -> None:
    events = [
        *full_incident(),
        event("alert.fired", 3, {"alert_name": "Second"}),
        event("alert.fired", -2, {"alert_name": "Earliest"}),
        event("incident.mitigated", 100),
    ]
    metrics = compute_metrics(events)
    assert metrics.ttd_seconds == 540
    assert metrics.mttm_seconds == 3600


def test_an_empty_record_has_no_metrics() -> None:
    assert compute_metrics([]).model_dump() == dict.fromkeys(
        ("ttd_seconds", "time_to_declare_seconds", "mttm_seconds", "mttr_seconds")
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "unknown"),
        (0, "0 s"),
        (45, "45 s"),
        (420, "7 min"),
        (8100, "2 h 15 min"),
        (90061, "1 d 1 h"),
        (-300, "−5 min"),
    ],
)
def test_durations_read_like_people_write_them(seconds: int | None, text: str) -> None:
    assert format_duration(seconds) == text


# --- data gaps --------------------------------------------------------------------------------


def test_a_complete_record_has_no_data_gaps() -> None:
    assert find_data_gaps(full_incident()) == []


def test_an_empty_record_lists_its_gaps_in_contract_order() -> None:
    assert [gap.value for gap in find_data_gaps([])] == [
        "no_alert",
        "no_confirmation",
        "no_declaration",
        "no_mitigation_time",
        "no_resolution_time",
        "no_phase_transitions",
        "no_milestones",
        "no_role_assignments",
        "no_mim_assigned",
        "no_status_updates",
        "no_customer_impact_data",
        "no_root_cause",
    ]


def _no_customer_data(events: list[CloudEvent]) -> list[CloudEvent]:
    out = []
    for e in events:
        if e.short_type in ("alert.fired", "incident.declared"):
            data = {
                k: v
                for k, v in e.data.items()
                if k not in ("customer_count", "customer_impact", "affected_users")
            }
            e = event(e.short_type, (e.occurred_at - START).total_seconds() / 60, data)
        out.append(e)
    return out


def _mim_not_assigned(events: list[CloudEvent]) -> list[CloudEvent]:
    return [e for e in events if not (e.short_type == "role.assigned" and e.data["role"] == "mim")]


def _vendor_without_sla(events: list[CloudEvent]) -> list[CloudEvent]:
    return [*events, event("vendor.engaged", 50, {"vendor": "Other DNS"})]


@pytest.mark.parametrize(
    ("gap", "change"),
    [
        (DataGap.NO_ALERT, lambda evs: without(evs, "alert.fired")),
        (DataGap.NO_CONFIRMATION, lambda evs: without(evs, "incident.confirmed")),
        (DataGap.NO_DECLARATION, lambda evs: without(evs, "incident.declared")),
        (DataGap.NO_MITIGATION_TIME, lambda evs: without(evs, "incident.mitigated")),
        (DataGap.NO_RESOLUTION_TIME, lambda evs: without(evs, "incident.resolved")),
        (DataGap.NO_PHASE_TRANSITIONS, lambda evs: without(evs, "phase.entered")),
        (DataGap.NO_MILESTONES, lambda evs: without(evs, "milestone.logged")),
        (DataGap.NO_ROLE_ASSIGNMENTS, lambda evs: without(evs, "role.assigned")),
        (DataGap.NO_MIM_ASSIGNED, _mim_not_assigned),
        (DataGap.NO_STATUS_UPDATES, lambda evs: without(evs, "status.posted")),
        (DataGap.NO_CUSTOMER_IMPACT_DATA, _no_customer_data),
        (DataGap.VENDOR_SLA_UNKNOWN, _vendor_without_sla),
        (DataGap.NO_ROOT_CAUSE, lambda evs: without(evs, "rootcause.identified")),
    ],
)
def test_each_gap_appears_when_its_data_is_missing(gap: DataGap, change: Any) -> None:
    gaps = find_data_gaps(change(full_incident()))
    assert gap in gaps
    if gap is DataGap.NO_ROLE_ASSIGNMENTS:
        assert gaps == [DataGap.NO_ROLE_ASSIGNMENTS, DataGap.NO_MIM_ASSIGNED]
    else:
        assert gaps == [gap]


def test_a_vendor_sla_stated_on_re_engagement_closes_the_gap() -> None:
    events = [
        event("vendor.engaged", 10, {"vendor": "Acme"}),
        event("vendor.engaged", 20, {"vendor": "acme", "response_sla_minutes": 15}),
    ]
    assert DataGap.VENDOR_SLA_UNKNOWN not in find_data_gaps(events)


def test_customer_impact_data_counts_when_it_says_no_impact() -> None:
    events = [event("alert.fired", 0, {"alert_name": "A", "customer_count": 0})]
    assert DataGap.NO_CUSTOMER_IMPACT_DATA not in find_data_gaps(events)


def test_data_gaps_in_the_review_ignore_a_narrative_root_cause() -> None:
    narrative = Narrative(root_cause="The incident was caused by a typo in the load balancer config.")
    review = review_of(without(full_incident(), "rootcause.identified"), narrative=narrative)
    assert review.data_gaps == [DataGap.NO_ROOT_CAUSE]


# --- attendees --------------------------------------------------------------------------------


def seats(group: list[Any]) -> list[tuple[str, str | None, str | None]]:
    return [(a.role, a.person, a.track or a.vendor) for a in group]


def test_attendees_of_a_full_incident() -> None:
    attendees = review_of(full_incident()).attendees
    assert seats(attendees.required) == [
        ("mim", "Dana Reyes", None),
        ("technical_recovery_lead", "@kpatel", None),
        ("track_lead", "Lee Wong", "database"),
        ("sme", "Ana Silva", "database"),
    ]
    # Customer impact (and a public update): the comms lead is invited, though nobody held the role.
    assert seats(attendees.optional) == [("customer_comms_lead", None, None)]


def test_roles_nobody_held_still_appear_with_a_null_person() -> None:
    events = [
        event("incident.declared", 0, {"title": "T", "severity": "high", "regulatory_exposure": True}),
        event("track.opened", 5, {"track": "network"}),
    ]
    attendees = review_of(events).attendees
    assert seats(attendees.required) == [
        ("mim", None, None),
        ("technical_recovery_lead", None, None),
        ("track_lead", None, "network"),
    ]
    assert seats(attendees.optional) == [("security", None, None)]


def test_the_latest_assignment_of_a_role_is_invited() -> None:
    events = [
        event("role.assigned", 5, {"role": "mim", "person": "Dana Reyes"}),
        event("role.assigned", 50, {"role": "mim", "person": "Sam Ortiz"}),
        event("role.assigned", 20, {"role": "security", "person": "Kim Lau"}),
        event("incident.declared", 0, {"title": "T", "severity": "critical", "regulatory_exposure": True}),
    ]
    attendees = review_of(events).attendees
    assert attendees.required[0].person == "Sam Ortiz"
    assert seats(attendees.optional) == [("security", "Kim Lau", None)]


def test_a_role_written_in_capitals_is_the_same_role() -> None:
    events = [event("role.assigned", 5, {"role": "MIM", "person": "Dana Reyes"})]
    assert review_of(events).attendees.required[0].person == "Dana Reyes"
    assert DataGap.NO_MIM_ASSIGNED not in find_data_gaps(events)


def test_every_opened_track_brings_its_lead_and_smes_but_not_unopened_ones() -> None:
    events = [
        event("track.opened", 5, {"track": "app"}),
        event("role.assigned", 6, {"role": "sme", "person": "Ana Silva", "track": "app"}),
        event("role.assigned", 7, {"role": "sme", "person": "Ravi Iyer", "track": "app"}),
        event("role.assigned", 8, {"role": "sme", "person": "Zoe Park", "track": "storage"}),
        event("track.opened", 9, {"track": "db", "lead": "Lee Wong"}),
        event("role.assigned", 10, {"role": "track_lead", "person": "Mo Chen", "track": "db"}),
    ]
    required = review_of(events).attendees.required[2:]
    assert seats(required) == [
        ("sme", "Ana Silva", "app"),
        ("sme", "Ravi Iyer", "app"),
        ("track_lead", "Mo Chen", "db"),
    ]


def test_vendor_representatives_are_required_only_when_the_root_cause_is_vendor_related() -> None:
    base = [
        event("vendor.engaged", 10, {"vendor": "Acme Cloud", "response_sla_minutes": 30}),
        event("vendor.engaged", 11, {"vendor": "Zeta DNS"}),
        event(
            "role.assigned",
            12,
            {"role": "vendor_representative", "person": "Jo Acme", "vendor": "acme cloud"},
        ),
    ]
    unrelated = [*base, event("rootcause.identified", 30, {"fingerprint": "x", "vendor_related": False})]
    assert all(a.role != "vendor_representative" for a in review_of(unrelated).attendees.required)
    related = [*base, event("rootcause.identified", 30, {"fingerprint": "x", "vendor_related": True})]
    reps = [a for a in review_of(related).attendees.required if a.role == "vendor_representative"]
    assert [(a.vendor, a.person) for a in reps] == [("Acme Cloud", "Jo Acme"), ("Zeta DNS", None)]


def test_a_single_engaged_vendor_gets_the_representative_named_without_vendor() -> None:
    events = [
        event("vendor.engaged", 10, {"vendor": "Acme Cloud"}),
        event("role.assigned", 12, {"role": "vendor_representative", "person": "Jo Acme"}),
        event("rootcause.identified", 30, {"fingerprint": "x", "vendor_related": True}),
    ]
    reps = [a for a in review_of(events).attendees.required if a.role == "vendor_representative"]
    assert [(a.vendor, a.person) for a in reps] == [("Acme Cloud", "Jo Acme")]


@pytest.mark.parametrize(
    ("extra", "comms_invited"),
    [
        ([event("status.posted", 30, {"audience": "public", "text": "Degraded"})], True),
        ([event("status.posted", 30, {"audience": "internal", "text": "Degraded"})], False),
        ([event("incident.updated", 30, {"customer_impact": True})], True),
        ([event("alert.fired", 1, {"alert_name": "A", "external_impact": True})], True),
        ([], False),
    ],
)
def test_the_comms_lead_is_optional_on_customer_impact_or_public_update(
    extra: list[CloudEvent], comms_invited: bool
) -> None:
    events = [
        event("incident.declared", 0, {"title": "T", "severity": "high", "customer_impact": False}),
        *extra,
    ]
    optional = review_of(events).attendees.optional
    assert [a.role for a in optional] == (["customer_comms_lead"] if comms_invited else [])


# --- vendors ----------------------------------------------------------------------------------


def test_vendor_response_is_measured_against_its_sla() -> None:
    [vendor] = summarise_vendors(full_incident())
    doc = vendor.model_dump(mode="json")
    assert doc == {
        "vendor": "Acme Cloud",
        "engaged_at": at(25),
        "responded_at": at(70),
        "response_sla_minutes": 30,
        "response_minutes": 45,
        "sla_met": False,
        "rca_due": "2026-11-27T12:00:00Z",
        "rca_received_at": None,
        "url": None,
    }


@pytest.mark.parametrize(
    ("response_minutes", "sla", "shown", "met"),
    [
        (30, 30, 30, True),
        (30 + 1 / 60, 30, 31, False),
        (5, 30, 5, True),
        (45, None, 45, None),
        (None, 30, None, None),
    ],
)
def test_vendor_sla_arithmetic(
    response_minutes: float | None, sla: int | None, shown: int | None, met: bool | None
) -> None:
    engaged = {"vendor": "Acme"} | ({"response_sla_minutes": sla} if sla is not None else {})
    events = [event("vendor.engaged", 10, engaged)]
    if response_minutes is not None:
        events.append(event("vendor.responded", 10 + response_minutes, {"vendor": "Acme"}))
    [vendor] = summarise_vendors(events)
    assert (vendor.response_minutes, vendor.sla_met) == (shown, met)


def test_vendor_rca_follows_the_latest_commitment_and_the_receipt() -> None:
    events = [
        event("vendor.engaged", 10, {"vendor": "Acme", "response_sla_minutes": 15}),
        event("vendor.rca_committed", 200, {"vendor": "ACME", "due": "2026-11-25T12:00:00Z"}),
        event("vendor.rca_committed", 300, {"vendor": "acme", "due": "2026-12-02T12:00:00+02:00"}),
        event("vendor.rca_received", 5000, {"vendor": "Acme", "url": "https://acme.example/rca/42"}),
    ]
    [vendor] = summarise_vendors(events)
    doc = vendor.model_dump(mode="json")
    assert (doc["vendor"], doc["rca_due"], doc["rca_received_at"], doc["url"]) == (
        "Acme",
        "2026-12-02T10:00:00Z",
        at(5000),
        "https://acme.example/rca/42",
    )
    assert vendor.rca_open_without_date is False
