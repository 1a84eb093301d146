"""The summary and timeline of a Learning Review, folded from the incident record (domain, pure)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from majorops.reports.domain.timeline import (
    RecordedEvent,
    ReviewStatus,
    build_timeline,
    describe_event,
    incident_duration_seconds,
    review_status,
    summarize_incident,
)
from majorops.shared.events import Severity, validate_event
from majorops.shared.testing import IncidentEvents

INCIDENT = "INC-1042"
event = IncidentEvents(INCIDENT, prefix="ev", source="test")


def ev(
    type_: str, time: str, arrival: int | None = None, event_id: str | None = None, **data: Any
) -> RecordedEvent:
    """One recorded event; arrival defaults to a fresh, growing stream sequence."""
    recorded = event(type_, time, event_id=event_id, **data)
    return RecordedEvent(recorded, arrival if arrival is not None else event.built)


def checkout_incident() -> list[RecordedEvent]:
    """A critical incident from first alert to close, as the record would hold it."""
    return [
        ev(
            "alert.fired",
            "2026-11-20T09:02:00Z",
            alert_name="CheckoutLatencyHigh",
            service="checkout",
            customer_count=1200,
        ),
        ev("incident.confirmed", "2026-11-20T09:09:00Z"),
        ev(
            "incident.declared",
            "2026-11-20T09:14:00Z",
            title="Checkout latency",
            severity="P2",
            affected_users=800,
            sla_status="at_risk",
        ),
        ev("role.assigned", "2026-11-20T09:15:00Z", role="mim", person="Dana Reyes"),
        ev("role.assigned", "2026-11-20T09:16:00Z", role="technical_recovery_lead", person="@kwan"),
        ev("track.opened", "2026-11-20T09:20:00Z", track="database", lead="Priya Nair"),
        ev(
            "incident.updated",
            "2026-11-20T09:40:00Z",
            severity="critical",
            title="Checkout down",
            affected_users=1200,
            revenue_exposure=50000,
            sla_status="breached",
        ),
        ev("role.assigned", "2026-11-20T10:00:00Z", role="sme", person="Priya Nair", track="database"),
        ev("incident.updated", "2026-11-20T10:30:00Z", severity="high"),
        ev("incident.mitigated", "2026-11-20T10:14:00Z"),
        ev("incident.resolved", "2026-11-20T11:17:00Z"),
        ev("incident.closed", "2026-11-20T12:00:00Z"),
    ]


def test_summary_of_a_full_incident() -> None:
    summary = summarize_incident(INCIDENT, checkout_incident()).as_dict()
    assert summary == {
        "incident_id": INCIDENT,
        "title": "Checkout down",
        "severity": "critical",  # the late downgrade to high does not hide how bad it was
        "duration_seconds": 8100,  # 09:02 first alert → 11:17 resolved
        "customer_impact": True,
        "affected_users": 1200,
        "revenue_exposure": 50000,
        "sla_status": "breached",
        "mim": "Dana Reyes",
        "responders": ["Dana Reyes", "@kwan", "Priya Nair"],
    }


def test_summary_does_not_depend_on_arrival_order() -> None:
    events = checkout_incident()
    expected = summarize_incident(INCIDENT, events)
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    # Arrival numbers follow the shuffled delivery, as the stream sequence would.
    redelivered = [RecordedEvent(r.event, arrival) for arrival, r in enumerate(shuffled, start=1)]
    assert summarize_incident(INCIDENT, redelivered) == expected


def test_latest_title_is_by_event_time_not_arrival() -> None:
    events = [
        ev("incident.updated", "2026-11-20T10:00:00Z", arrival=1, title="Payments degraded"),
        ev("incident.declared", "2026-11-20T09:00:00Z", arrival=2, title="Checkout latency", severity="low"),
    ]
    assert summarize_incident(INCIDENT, events).title == "Payments degraded"


def test_the_latest_mim_assignment_names_the_mim() -> None:
    events = [
        ev("role.assigned", "2026-11-20T11:00:00Z", role="mim", person="Sam Ortiz"),
        ev("role.assigned", "2026-11-20T09:00:00Z", role="mim", person="Dana Reyes"),
    ]
    summary = summarize_incident(INCIDENT, events)
    assert summary.mim == "Sam Ortiz"
    assert summary.responders == ("Dana Reyes", "Sam Ortiz")


def test_an_empty_record_gives_an_empty_summary() -> None:
    summary = summarize_incident(INCIDENT, [])
    assert summary.title is None and summary.severity is None and summary.mim is None
    assert summary.duration_seconds is None
    assert summary.customer_impact is None
    assert summary.responders == ()


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], None),
        ([("alert.fired", "2026-11-20T09:00:00Z", {"alert_name": "X", "customer_count": 0})], False),
        (
            [
                (
                    "incident.declared",
                    "2026-11-20T09:00:00Z",
                    {"title": "t", "severity": "low", "customer_impact": False},
                )
            ],
            False,
        ),
        ([("alert.fired", "2026-11-20T09:00:00Z", {"alert_name": "X", "external_impact": True})], True),
        (
            [
                (
                    "incident.declared",
                    "2026-11-20T09:00:00Z",
                    {"title": "t", "severity": "low", "customer_impact": True},
                ),
                ("incident.updated", "2026-11-20T10:00:00Z", {"customer_impact": False}),
            ],
            True,
        ),
    ],
    ids=["unknown", "alert-without-customers", "declared-internal", "external-impact", "ever-true"],
)
def test_customer_impact(events: list[tuple[str, str, dict[str, Any]]], expected: bool | None) -> None:
    recorded = [ev(type_, time, **data) for type_, time, data in events]
    assert summarize_incident(INCIDENT, recorded).customer_impact is expected


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("incident.declared", "2026-11-20T09:00:00Z")], None),  # still open
        ([("incident.resolved", "2026-11-20T09:00:00Z")], None),  # no start
        ([("incident.declared", "2026-11-20T09:00:00Z"), ("incident.closed", "2026-11-20T11:00:00Z")], 7200),
        (
            [
                ("incident.confirmed", "2026-11-20T08:50:00Z"),
                ("incident.declared", "2026-11-20T09:00:00Z"),
                ("incident.resolved", "2026-11-20T10:00:00Z"),
                ("incident.closed", "2026-11-20T12:00:00Z"),  # resolution wins over close
            ],
            4200,
        ),
        (
            # Offsets are honoured: 11:00+02:00 is 09:00Z.
            [
                ("incident.declared", "2026-11-20T11:00:00+02:00"),
                ("incident.resolved", "2026-11-20T09:30:00Z"),
            ],
            1800,
        ),
        (
            [("incident.declared", "2026-11-20T09:00:00Z"), ("incident.resolved", "2026-11-20T11:00:00.4Z")],
            7201,
        ),
        ([("incident.declared", "2026-11-20T09:00:00Z"), ("incident.resolved", "2026-11-20T08:00:00Z")], 0),
    ],
    ids=["open", "no-start", "closed-only", "resolved", "offsets", "rounded-up", "end-before-start"],
)
def test_duration(events: list[tuple[str, str]], expected: int | None) -> None:
    data: dict[str, dict[str, Any]] = {"incident.declared": {"title": "t", "severity": "high"}}
    recorded = [ev(type_, time, **data.get(type_, {})) for type_, time in events]
    assert incident_duration_seconds(recorded) == expected
    assert summarize_incident(INCIDENT, recorded).duration_seconds == expected


def test_timeline_lists_every_event_once_by_time_then_event_id() -> None:
    events = [
        ev(
            "incident.declared",
            "2026-11-20T09:14:00Z",
            arrival=3,
            event_id="declared",
            title="Checkout latency",
            severity="P1",
        ),
        ev("timeline.logged", "2026-11-20T09:30:00Z", arrival=5, event_id="note-b", text="Failover started"),
        ev("alert.fired", "2026-11-20T09:02:00+00:00", arrival=4, event_id="alert", alert_name="Latency"),
        ev("timeline.logged", "2026-11-20T09:30:00Z", arrival=2, event_id="note-a", text="Pool at 100%"),
        # The same event redelivered later: still one line, at its first arrival.
        ev("timeline.logged", "2026-11-20T09:30:00Z", arrival=9, event_id="note-a", text="Pool at 100%"),
    ]
    timeline = [entry.as_dict() for entry in build_timeline(events)]
    assert [(e["event_id"], e["at"]) for e in timeline] == [
        ("alert", "2026-11-20T09:02:00Z"),
        ("declared", "2026-11-20T09:14:00Z"),
        ("note-a", "2026-11-20T09:30:00Z"),
        ("note-b", "2026-11-20T09:30:00Z"),
    ]
    assert timeline[1] == {
        "at": "2026-11-20T09:14:00Z",
        "type": "incident.declared",
        "text": "Incident declared, critical: Checkout latency",
        "event_id": "declared",
    }


def test_timeline_times_are_utc() -> None:
    entry = build_timeline([ev("incident.confirmed", "2026-11-20T10:09:00.250+01:00")])[0]
    assert entry.as_dict()["at"] == "2026-11-20T09:09:00.250000Z"


@pytest.mark.parametrize(
    ("type_", "data", "text"),
    [
        (
            "alert.fired",
            {
                "alert_name": "CheckoutLatencyHigh",
                "service": "checkout",
                "customer_count": 1200,
                "external_impact": True,
            },
            "Alert CheckoutLatencyHigh fired on checkout (1200 customers affected, external impact)",
        ),
        ("alert.resolved", {"alert_name": "CheckoutLatencyHigh"}, "Alert CheckoutLatencyHigh resolved"),
        (
            "incident.updated",
            {"severity": "P3", "customer_impact": False},
            "Incident updated: severity medium, customer impact no",
        ),
        ("incident.resolved", {}, "Recovery validated, incident resolved"),
        ("phase.entered", {"phase": "recovery", "by": "Dana Reyes"}, "Phase recovery entered by Dana Reyes"),
        (
            "role.assigned",
            {"role": "sme", "person": "@kwan", "track": "database"},
            "@kwan assigned as sme on track database",
        ),
        (
            "track.opened",
            {"track": "database", "lead": "Priya Nair"},
            "Recovery track database opened, led by Priya Nair",
        ),
        (
            "status.posted",
            {"audience": "public", "text": "Checkout is slow"},
            "Public status update: Checkout is slow",
        ),
        (
            "vendor.engaged",
            {"vendor": "Acme DB", "response_sla_minutes": 30},
            "Vendor Acme DB engaged (response SLA 30 min)",
        ),
        (
            "vendor.rca_committed",
            {"vendor": "Acme DB", "due": "2026-11-27T17:00:00+01:00"},
            "Vendor Acme DB committed to an RCA by 2026-11-27T16:00:00Z",
        ),
        (
            "rootcause.identified",
            {"fingerprint": "db-pool-exhaustion"},
            "Root cause identified: db-pool-exhaustion",
        ),
        (
            "afteraction.rescheduled",
            {"meeting_at": "2026-11-24T14:00:00Z", "reason": "MIM out sick"},
            "After Action rescheduled to 2026-11-24T14:00:00Z: MIM out sick",
        ),
        (
            "actionitem.created",
            {"item_id": "AI-7", "title": "Add pool alarm", "owner": "@kwan", "due": "2026-12-01"},
            "Action item AI-7 created: Add pool alarm (owner @kwan, due 2026-12-01)",
        ),
        ("actionitem.completed", {"item_id": "AI-7"}, "Action item AI-7 completed"),
        ("review.published", {}, "Learning Review published"),
    ],
)
def test_timeline_text_states_the_facts_of_the_data(type_: str, data: dict[str, Any], text: str) -> None:
    assert describe_event(ev(type_, "2026-11-20T09:00:00Z", **data).event) == text


def test_a_deployment_added_type_gets_a_plain_text() -> None:
    custom = validate_event(
        event.envelope("change.rolled_back", "2026-11-20T09:00:00Z", {"anything": 1}, event_id="x1"),
        frozenset({"majorops.change.rolled_back"}),
    )
    assert describe_event(custom) == "Change rolled back"
    assert build_timeline([RecordedEvent(custom, 1)])[0].type == "change.rolled_back"


def test_status_turns_published_with_the_review_published_event() -> None:
    events = checkout_incident()
    assert review_status(events) is ReviewStatus.DRAFT
    events.append(ev("review.published", "2026-11-26T10:00:00Z"))
    assert review_status(events) is ReviewStatus.PUBLISHED


def test_severity_aliases_are_mapped() -> None:
    events = [ev("incident.declared", "2026-11-20T09:00:00Z", title="t", severity="p2")]
    assert summarize_incident(INCIDENT, events).severity is Severity.HIGH
