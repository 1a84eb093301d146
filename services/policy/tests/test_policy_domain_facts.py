"""Folding an incident's events into the facts policy decides on (CONTRACT §3 "Derived facts")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from majorops.policy.domain.facts import FactsAccumulator, OpenActionItem, fold_facts
from majorops.shared.events import CloudEvent, Severity
from majorops.shared.testing import IncidentEvents

event = IncidentEvents("INC-1", source="pagerduty/prod")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def declared(at: str, severity: str = "high", **extra: Any) -> CloudEvent:
    return event("incident.declared", at, {"title": "Checkout latency", "severity": severity, **extra})


def test_an_incident_with_no_relevant_events_has_no_facts_yet() -> None:
    facts = fold_facts([event("timeline.logged", "2026-11-20T09:00:00Z", {"text": "paged"})])
    assert facts.incident_id == "INC-1"
    assert facts.severity is None
    assert facts.duration_seconds is None
    assert facts.customer_impact is False
    assert facts.root_cause is None
    assert facts.event_count == 1


@pytest.mark.parametrize(
    ("severities", "peak"),
    [
        (["P1"], Severity.CRITICAL),
        (["p2"], Severity.HIGH),
        (["P3"], Severity.MEDIUM),
        (["P4"], Severity.LOW),
        (["Critical"], Severity.CRITICAL),
        (["low", "P2", "medium"], Severity.HIGH),
        (["critical", "low"], Severity.CRITICAL),
    ],
)
def test_severity_is_the_highest_ever_declared_or_updated(severities: list[str], peak: Severity) -> None:
    first, *updates = severities
    events = [declared("2026-11-20T09:00:00Z", first)]
    events += [
        event("incident.updated", f"2026-11-20T10:0{i}:00Z", {"severity": value})
        for i, value in enumerate(updates)
    ]
    assert fold_facts(events).severity == peak


def test_duration_runs_from_the_earliest_start_signal_to_the_earliest_resolution() -> None:
    facts = fold_facts(
        [
            declared("2026-11-20T09:30:00Z"),
            event("incident.confirmed", "2026-11-20T09:10:00Z"),
            event("alert.fired", "2026-11-20T09:05:00+01:00", {"alert_name": "HighLatency"}),
            event("incident.resolved", "2026-11-20T11:00:00Z"),
            event("incident.resolved", "2026-11-20T11:30:00Z"),
            event("incident.closed", "2026-11-20T12:00:00Z"),
        ]
    )
    assert facts.started_at == utc("2026-11-20T08:05:00Z")
    assert facts.declared_at == utc("2026-11-20T09:30:00Z")
    assert facts.resolved_at == utc("2026-11-20T11:00:00Z")
    assert facts.closed_at == utc("2026-11-20T12:00:00Z")
    assert facts.duration_seconds == int(timedelta(hours=2, minutes=55).total_seconds())


def test_duration_ends_at_close_when_never_resolved() -> None:
    facts = fold_facts([declared("2026-11-20T09:00:00Z"), event("incident.closed", "2026-11-20T10:00:00Z")])
    assert facts.duration_seconds == 3600


def test_duration_is_unknown_while_open_or_without_a_start() -> None:
    assert fold_facts([declared("2026-11-20T09:00:00Z")]).duration_seconds is None
    no_start = fold_facts(
        [
            event("incident.updated", "2026-11-20T09:00:00Z", {"severity": "high"}),
            event("incident.resolved", "2026-11-20T10:00:00Z"),
        ]
    )
    assert no_start.duration_seconds is None


def test_fractional_durations_round_up_so_over_two_hours_shows_over_7200() -> None:
    facts = fold_facts(
        [declared("2026-11-20T09:00:00Z"), event("incident.resolved", "2026-11-20T11:00:00.4Z")]
    )
    assert facts.duration_seconds == 7201


def test_a_resolution_stamped_before_the_start_counts_as_zero_duration() -> None:
    facts = fold_facts([declared("2026-11-20T09:00:00Z"), event("incident.resolved", "2026-11-20T08:00:00Z")])
    assert facts.duration_seconds == 0


@pytest.mark.parametrize(
    ("events", "impact"),
    [
        ([event("alert.fired", "2026-11-20T09:00:00Z", {"alert_name": "a", "customer_count": 3})], True),
        ([event("alert.fired", "2026-11-20T09:00:00Z", {"alert_name": "a", "customer_count": 0})], False),
        ([event("alert.fired", "2026-11-20T09:00:00Z", {"alert_name": "a", "external_impact": True})], True),
        (
            [event("alert.fired", "2026-11-20T09:00:00Z", {"alert_name": "a", "external_impact": False})],
            False,
        ),
        ([declared("2026-11-20T09:00:00Z", customer_impact=True)], True),
        ([declared("2026-11-20T09:00:00Z", customer_impact=False)], False),
        ([declared("2026-11-20T09:00:00Z", affected_users=0)], False),
        (
            [
                declared("2026-11-20T09:00:00Z"),
                event("incident.updated", "2026-11-20T09:10:00Z", {"customer_impact": True}),
                event("incident.updated", "2026-11-20T09:20:00Z", {"customer_impact": False}),
            ],
            True,
        ),
    ],
)
def test_customer_impact_is_true_if_any_signal_ever_said_so(events: list[CloudEvent], impact: bool) -> None:
    assert fold_facts(events).customer_impact is impact


def test_root_cause_is_the_latest_identified_and_dated_by_its_first_sighting() -> None:
    facts = fold_facts(
        [
            event("rootcause.identified", "2026-11-20T10:00:00Z", {"fingerprint": "db-pool-exhaustion"}),
            event(
                "rootcause.identified", "2026-11-20T11:00:00Z", {"fingerprint": "dns-ttl", "unusual": True}
            ),
            event("rootcause.identified", "2026-11-20T12:00:00Z", {"fingerprint": "db-pool-exhaustion"}),
        ]
    )
    assert facts.root_cause is not None
    assert facts.root_cause.fingerprint == "db-pool-exhaustion"
    assert facts.root_cause.identified_at == utc("2026-11-20T10:00:00Z")
    assert facts.root_cause.unusual is False


def test_root_causes_at_the_same_time_are_decided_by_event_id() -> None:
    events = [
        event("rootcause.identified", "2026-11-20T10:00:00Z", {"fingerprint": "a"}, event_id="rc-b"),
        event("rootcause.identified", "2026-11-20T10:00:00Z", {"fingerprint": "b"}, event_id="rc-a"),
    ]
    for order in (events, events[::-1]):
        root_cause = fold_facts(order).root_cause
        assert root_cause is not None
        assert root_cause.fingerprint == "a"


def test_meeting_is_the_one_of_the_latest_schedule_event_not_the_latest_date() -> None:
    facts = fold_facts(
        [
            event("afteraction.scheduled", "2026-11-20T13:00:00Z", {"meeting_at": "2026-11-26T10:00:00Z"}),
            event(
                "afteraction.rescheduled",
                "2026-11-21T09:00:00Z",
                {"meeting_at": "2026-11-24T16:00:00+01:00", "reason": "MIM out"},
            ),
        ]
    )
    assert facts.meeting_at == utc("2026-11-24T15:00:00Z")


def test_held_and_published_are_their_earliest_times() -> None:
    facts = fold_facts(
        [
            event("afteraction.held", "2026-11-25T10:00:00Z"),
            event("afteraction.held", "2026-11-24T10:00:00Z"),
            event("review.published", "2026-11-27T10:00:00Z"),
            event("review.published", "2026-11-26T10:00:00Z"),
        ]
    )
    assert facts.after_action_held_at == utc("2026-11-24T10:00:00Z")
    assert facts.review_published_at == utc("2026-11-26T10:00:00Z")


def test_open_action_items_carry_their_latest_title_owner_and_due() -> None:
    facts = fold_facts(
        [
            event("actionitem.created", "2026-11-25T10:00:00Z", {"item_id": "AI-2", "title": "Pool alarm"}),
            event(
                "actionitem.updated",
                "2026-11-25T12:00:00Z",
                {"item_id": "AI-2", "owner": "@dreyes", "due": "2026-12-15"},
            ),
            event("actionitem.updated", "2026-11-25T11:00:00Z", {"item_id": "AI-2", "owner": "@old"}),
            event(
                "actionitem.created", "2026-11-25T10:00:00Z", {"item_id": "AI-1", "title": "Runbook step 4"}
            ),
            event("actionitem.completed", "2026-11-26T10:00:00Z", {"item_id": "AI-3"}),
            event("actionitem.created", "2026-11-27T10:00:00Z", {"item_id": "AI-3", "title": "Done one"}),
        ]
    )
    assert facts.open_action_items == (
        OpenActionItem("AI-1", "Runbook step 4"),
        OpenActionItem("AI-2", "Pool alarm", owner="@dreyes", due="2026-12-15"),
    )


def test_the_same_event_id_counts_once() -> None:
    first = declared("2026-11-20T09:00:00Z", "medium")
    accumulator = FactsAccumulator("INC-1")
    assert accumulator.add(first) is True
    assert accumulator.add(first) is False
    assert accumulator.facts().event_count == 1


def test_events_of_another_incident_are_refused() -> None:
    accumulator = FactsAccumulator("INC-1")
    with pytest.raises(ValueError, match="belongs to incident 'INC-2'"):
        accumulator.add(event("incident.confirmed", "2026-11-20T09:00:00Z", incident="INC-2"))
    with pytest.raises(ValueError, match="belongs to incident"):
        fold_facts(
            [
                event("incident.confirmed", "2026-11-20T09:00:00Z"),
                event("incident.confirmed", "2026-11-20T09:00:00Z", incident="INC-2"),
            ]
        )


def test_folding_nothing_needs_an_incident_id() -> None:
    assert fold_facts([], incident_id="INC-9").incident_id == "INC-9"
    with pytest.raises(ValueError, match="no events"):
        fold_facts([])


def test_facts_taken_midway_and_at_the_end_match_a_fold_of_everything() -> None:
    events = [
        declared("2026-11-20T09:00:00Z", "P2"),
        event("actionitem.created", "2026-11-20T09:30:00Z", {"item_id": "AI-1", "title": "Fix"}),
        event("incident.resolved", "2026-11-20T10:00:00Z"),
        event("actionitem.completed", "2026-11-20T10:30:00Z", {"item_id": "AI-1"}),
    ]
    accumulator = FactsAccumulator("INC-1")
    for single in events[:2]:
        accumulator.add(single)
    assert accumulator.facts().open_action_items == (OpenActionItem("AI-1", "Fix"),)
    for single in events[2:]:
        accumulator.add(single)
    assert accumulator.facts() == fold_facts(events)
    assert accumulator.facts().open_action_items == ()
