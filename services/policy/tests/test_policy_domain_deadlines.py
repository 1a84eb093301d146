"""The five After Action deadlines as a decision publishes them (CONTRACT §3)."""

from __future__ import annotations

from typing import Any

import pytest

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.decision import derive_decision
from majorops.policy.domain.facts import fold_facts
from majorops.shared.events import CloudEvent
from majorops.shared.testing import IncidentEvents

event = IncidentEvents("INC-1042", source="pagerduty/prod")


def deadlines_of(events: list[CloudEvent], calendar: BusinessCalendar | None = None) -> dict[str, Any]:
    decision = derive_decision(fold_facts(events), [], calendar or BusinessCalendar())
    return dict(decision.model_dump(mode="json")["deadlines"])


def closed_incident(severity: str, closed_at: str) -> list[CloudEvent]:
    return [
        event(
            "incident.declared", "2026-11-20T09:14:00Z", {"title": "Checkout latency", "severity": severity}
        ),
        event("incident.resolved", "2026-11-20T11:29:00Z"),
        event("incident.closed", closed_at),
    ]


def test_every_deadline_is_null_until_its_event_exists() -> None:
    open_incident = [event("incident.declared", "2026-11-20T09:14:00Z", {"title": "x", "severity": "P1"})]
    assert deadlines_of(open_incident) == {
        "schedule_by": None,
        "hold_by": None,
        "draft_due": None,
        "publish_by": None,
        "action_review_at": None,
    }


def test_contract_example_critical_closed_on_a_friday() -> None:
    deadlines = deadlines_of(closed_incident("critical", "2026-11-20T12:00:00Z"))
    assert deadlines["schedule_by"] == "2026-11-21T12:00:00Z"
    assert deadlines["hold_by"] == "2026-11-27T12:00:00Z"


def test_hold_by_skips_thanksgiving_with_us_holidays() -> None:
    deadlines = deadlines_of(closed_incident("P1", "2026-11-20T12:00:00Z"), BusinessCalendar("UTC", "US"))
    assert deadlines["schedule_by"] == "2026-11-21T12:00:00Z"
    assert deadlines["hold_by"] == "2026-11-30T12:00:00Z"


@pytest.mark.parametrize("severity", ["high", "P2", "medium", "low"])
def test_hold_by_is_ten_business_days_for_anything_but_critical(severity: str) -> None:
    deadlines = deadlines_of(closed_incident(severity, "2026-11-20T12:00:00Z"))
    assert deadlines["hold_by"] == "2026-12-04T12:00:00Z"


def test_hold_by_uses_the_peak_severity_so_a_downgrade_keeps_five_days() -> None:
    events = [
        *closed_incident("critical", "2026-11-20T12:00:00Z"),
        event("incident.updated", "2026-11-20T11:50:00Z", {"severity": "P3"}),
    ]
    assert deadlines_of(events)["hold_by"] == "2026-11-27T12:00:00Z"


@pytest.mark.parametrize(
    ("closed_at", "hold_by"),
    [
        ("2026-11-13T15:00:00Z", "2026-11-20T15:00:00Z"),  # Friday 15:00 + 5 → next Friday 15:00
        ("2026-11-14T10:00:00Z", "2026-11-20T10:00:00Z"),  # Saturday 10:00 + 5 → next Friday 10:00
    ],
)
def test_hold_by_after_a_friday_or_saturday_close(closed_at: str, hold_by: str) -> None:
    assert deadlines_of(closed_incident("critical", closed_at))["hold_by"] == hold_by


def test_hold_by_in_berlin_keeps_the_local_time_across_the_end_of_summer_time() -> None:
    # Closed Friday 2026-10-23 15:00 CEST; clocks go back Sunday 2026-10-25; due Friday 15:00 CET.
    events = closed_incident("critical", "2026-10-23T15:00:00+02:00")
    deadlines = deadlines_of(events, BusinessCalendar("Europe/Berlin", "DE"))
    assert deadlines["schedule_by"] == "2026-10-24T13:00:00Z"
    assert deadlines["hold_by"] == "2026-10-30T14:00:00Z"


def test_draft_is_due_48_hours_before_the_latest_scheduled_meeting() -> None:
    events = [
        event("afteraction.scheduled", "2026-11-20T13:00:00Z", {"meeting_at": "2026-11-26T10:00:00Z"}),
        event("afteraction.rescheduled", "2026-11-21T08:00:00Z", {"meeting_at": "2026-11-27T14:30:00+01:00"}),
    ]
    assert deadlines_of(events)["draft_due"] == "2026-11-25T13:30:00Z"


def test_a_reschedule_to_an_earlier_date_moves_the_draft_earlier() -> None:
    events = [
        event("afteraction.scheduled", "2026-11-20T13:00:00Z", {"meeting_at": "2026-11-27T10:00:00Z"}),
        event("afteraction.rescheduled", "2026-11-21T08:00:00Z", {"meeting_at": "2026-11-24T10:00:00Z"}),
    ]
    assert deadlines_of(events)["draft_due"] == "2026-11-22T10:00:00Z"


def test_publish_by_is_48_hours_after_the_after_action_was_held() -> None:
    events = [event("afteraction.held", "2026-11-25T15:00:00Z")]
    assert deadlines_of(events)["publish_by"] == "2026-11-27T15:00:00Z"


def test_action_items_are_reviewed_30_calendar_days_after_publication() -> None:
    events = [event("review.published", "2026-11-27T10:00:00Z")]
    assert deadlines_of(events)["action_review_at"] == "2026-12-27T10:00:00Z"


def test_the_whole_chain_of_a_critical_incident() -> None:
    events = [
        *closed_incident("critical", "2026-11-20T12:00:00Z"),
        event("afteraction.scheduled", "2026-11-20T16:00:00Z", {"meeting_at": "2026-11-25T10:00:00Z"}),
        event("afteraction.held", "2026-11-25T11:00:00Z"),
        event("review.published", "2026-11-26T17:00:00Z"),
    ]
    assert deadlines_of(events) == {
        "schedule_by": "2026-11-21T12:00:00Z",
        "hold_by": "2026-11-27T12:00:00Z",
        "draft_due": "2026-11-23T10:00:00Z",
        "publish_by": "2026-11-27T11:00:00Z",
        "action_review_at": "2026-12-26T17:00:00Z",
    }
