"""Beyond one incident: earlier reviews of a repeat, ineffective actions, and the list's next deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from majorops.reports.domain.action_items import ActionItem
from majorops.reports.domain.document import LearningReview
from majorops.reports.domain.follow_up import (
    AlertFire,
    EarlierRecord,
    alert_fire_of,
)
from majorops.reports.domain.learning_review import assemble_learning_review
from majorops.reports.domain.listing import (
    action_item_records,
    next_deadline,
    open_deadlines,
    review_listing,
)
from majorops.reports.domain.render_html import render_html
from majorops.reports.domain.render_markdown import render_markdown
from majorops.reports.domain.timeline import ReviewStatus
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.events import CloudEvent, Severity, due_moment
from majorops.shared.testing import EXAMPLE_START as START
from majorops.shared.testing import IncidentEvents

INCIDENT = "INC-2001"


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


event = IncidentEvents(INCIDENT, content_ids=True)
stamp = event.time


DAY = 24 * 60


def decision(**fields: Any) -> AfterActionDecision:
    return AfterActionDecision.model_validate(
        {"incident_id": INCIDENT, "revision": 1, "requirement": "mandatory"} | fields
    )


def fire(
    event_id: str,
    incident: str,
    minutes: float,
    alert: str = "DbPoolSaturated",
    service: str | None = "checkout",
) -> AlertFire:
    return AlertFire(
        event_id=event_id, incident_id=incident, alert_name=alert, service=service, fired_at=at(minutes)
    )


def published_incident(
    *, completed_at: float | None = 3 * DAY, publish_at: float = 2 * DAY
) -> list[CloudEvent]:
    """An incident on checkout's DbPoolSaturated alert, with one action item, published."""
    events = [
        event("alert.fired", 0, {"alert_name": "DbPoolSaturated", "service": "checkout"}),
        event("incident.declared", 5, {"title": "Checkout down", "severity": "critical"}),
        event(
            "actionitem.created",
            60,
            {"item_id": "AI-1", "title": "Raise the pool size", "owner": "DBA lead", "due": "2026-12-01"},
        ),
        event(
            "actionitem.created",
            61,
            {
                "item_id": "AI-2",
                "title": "Add a saturation runbook",
                "owner": "SRE lead",
                "due": "2026-12-01",
            },
        ),
        event("review.published", publish_at),
    ]
    if completed_at is not None:
        events.append(event("actionitem.completed", completed_at, {"item_id": "AI-1"}))
    return events


def review(events: list[CloudEvent], **kwargs: Any) -> LearningReview:
    return assemble_learning_review(
        events, kwargs.pop("decision", None), [], None, incident_id=INCIDENT, **kwargs
    )


# --- effectiveness --------------------------------------------------------------------------


def test_an_alert_firing_again_within_30_days_of_a_completion_flags_the_item() -> None:
    later = fire("f-later", "INC-2050", 3 * DAY + 10 * DAY)
    result = review(published_incident(), alert_fires=[later])
    assert [(f.item_id, f.recurred_in, f.recurrences) for f in result.effectiveness] == [
        ("AI-1", "INC-2050", 1)
    ]
    finding = result.effectiveness[0]
    assert finding.alert_name == "DbPoolSaturated" and finding.service == "checkout"
    assert finding.recurred_at == later.fired_at
    assert "AI-1" in finding.message and "INC-2050" in finding.message and "10 days later" in finding.message


@pytest.mark.parametrize(
    ("minutes_after_completion", "flagged"),
    [(-1, False), (0, False), (1, True), (30 * DAY, True), (30 * DAY + 1, False)],
    ids=["before", "at-completion", "just-after", "day-30", "day-30-and-a-minute"],
)
def test_only_fires_in_the_30_days_after_the_completion_count(
    minutes_after_completion: int, flagged: bool
) -> None:
    recurrence = fire("f", "INC-2050", 3 * DAY + minutes_after_completion)
    assert bool(review(published_incident(), alert_fires=[recurrence]).effectiveness) is flagged


@pytest.mark.parametrize(
    ("alert", "service"),
    [("DbPoolSaturated", "payments"), ("DiskFull", "checkout"), ("DbPoolSaturated", None)],
    ids=["other-service", "other-alert", "no-service"],
)
def test_another_alert_or_service_is_not_a_recurrence(alert: str, service: str | None) -> None:
    other = fire("f", "INC-2050", 4 * DAY, alert=alert, service=service)
    assert review(published_incident(), alert_fires=[other]).effectiveness == []


def test_nothing_is_flagged_before_publication_or_for_open_items() -> None:
    recurrence = fire("f", "INC-2050", 4 * DAY)
    draft = [e for e in published_incident() if e.type != "majorops.review.published"]
    assert review(draft, alert_fires=[recurrence]).effectiveness == []
    assert review(published_incident(completed_at=None), alert_fires=[recurrence]).effectiveness == []


def test_the_incident_firing_again_itself_counts_and_repeats_are_counted_once_each() -> None:
    events = [
        *published_incident(),
        event("alert.fired", 3 * DAY + 60, {"alert_name": "DbPoolSaturated", "service": "checkout"}),
    ]
    elsewhere = fire("f2", "INC-2051", 5 * DAY)
    result = review(events, alert_fires=[elsewhere, elsewhere])
    (finding,) = result.effectiveness
    assert finding.recurred_in == INCIDENT
    assert finding.recurrences == 2
    assert "incident INC-" not in finding.message


def test_effectiveness_is_rendered_in_markdown_and_html() -> None:
    result = review(published_incident(), alert_fires=[fire("f", "INC-2050", 4 * DAY)])
    assert "## Action effectiveness" in render_markdown(result)
    assert 'id="effectiveness"' in render_html(result)


def test_a_fire_is_read_from_a_valid_alert_only() -> None:
    fired = alert_fire_of(event("alert.fired", 0, {"alert_name": " DbPoolSaturated ", "service": "checkout"}))
    assert fired is not None and fired.alert_name == "DbPoolSaturated" and fired.incident_id == INCIDENT
    assert alert_fire_of(event("alert.resolved", 0, {"alert_name": "DbPoolSaturated"})) is None


# --- earlier reviews of a repeat incident ------------------------------------------------------


def test_a_repeat_links_the_earlier_reviews_with_their_open_items() -> None:
    earlier = EarlierRecord(
        title="Checkout slow",
        severity=Severity.HIGH,
        status=ReviewStatus.PUBLISHED,
        action_items=[
            ActionItem(item_id="AI-7", title="Raise the pool size", owner="DBA lead", due="2026-12-01"),
            ActionItem(item_id="AI-8", title="Alert on saturation", status="completed", completed_at=at(0)),
        ],
    )
    result = review(
        [event("incident.declared", 0, {"title": "Checkout down", "severity": "low"})],
        decision=decision(repeat_of=["INC-1900", "INC-1800"]),
        earlier={"INC-1900": earlier},
    )
    first, second = result.earlier_reviews
    assert (first.incident_id, first.title, first.status, first.link) == (
        "INC-1900",
        "Checkout slow",
        ReviewStatus.PUBLISHED,
        "/v1/reviews/INC-1900",
    )
    assert [(i.item_id, i.owner) for i in first.open_action_items] == [("AI-7", "DBA lead")]
    # Reports holds nothing of INC-1800: it is still linked, with what policy said.
    assert (second.incident_id, second.status, second.open_action_items) == ("INC-1800", None, [])


def test_the_decisions_open_items_fill_in_what_reports_does_not_know() -> None:
    listed = [
        {"incident_id": "INC-1900", "item_id": "AI-7", "title": "Raise the pool size (policy's copy)"},
        {"incident_id": "INC-1900", "item_id": "AI-8", "title": "Alert on saturation"},
        {
            "incident_id": "INC-1800",
            "item_id": "MTM-1",
            "title": "Pin the driver version",
            "owner": "SRE lead",
        },
    ]
    known = EarlierRecord(
        title="Checkout slow",
        action_items=[
            ActionItem(item_id="AI-7", title="Raise the pool size", owner="DBA lead"),
            ActionItem(item_id="AI-8", title="Alert on saturation", status="completed", completed_at=at(0)),
        ],
    )
    result = review(
        [],
        decision=decision(repeat_of=["INC-1800", "INC-1900"], repeat_open_action_items=listed),
        earlier={"INC-1900": known},
    )
    by_id = {
        r.incident_id: [(i.item_id, i.title) for i in r.open_action_items] for r in result.earlier_reviews
    }
    # Reports' own record wins for INC-1900 (AI-8 is completed there); policy's list fills INC-1800.
    assert by_id == {
        "INC-1900": [("AI-7", "Raise the pool size")],
        "INC-1800": [("MTM-1", "Pin the driver version")],
    }


def test_earlier_reviews_are_rendered_with_every_text_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    result = review(
        [],
        decision=decision(repeat_of=["INC-1900"]),
        earlier={
            "INC-1900": EarlierRecord(title=hostile, action_items=[ActionItem(item_id="AI-1", title=hostile)])
        },
    )
    page = render_html(result)
    assert hostile not in page and "&lt;script&gt;" in page
    assert '<a href="/v1/reviews/INC-1900.html">' in page
    assert "Earlier incidents with the same root cause" in render_markdown(result)


def test_not_a_repeat_links_nothing() -> None:
    assert review([], decision=decision()).earlier_reviews == []
    assert "Earlier incidents" not in render_markdown(review([], decision=decision()))


# --- the list: next deadline and action item rows --------------------------------------------


def deadlines(**values: float) -> dict[str, str]:
    return {name: stamp(minutes) for name, minutes in values.items()}


def test_the_next_deadline_is_the_earliest_one_not_yet_met() -> None:
    d = decision(deadlines=deadlines(schedule_by=DAY, hold_by=5 * DAY))
    closed = [event("incident.closed", 0)]
    assert next_deadline(review(closed, decision=d)) == at(DAY)
    scheduled = [*closed, event("afteraction.scheduled", 60, {"meeting_at": stamp(4 * DAY)})]
    assert next_deadline(review(scheduled, decision=d)) == at(5 * DAY)
    held = [*scheduled, event("afteraction.held", 4 * DAY)]
    assert next_deadline(review(held, decision=d)) is None


def test_schedule_and_hold_deadlines_bind_only_a_mandatory_after_action() -> None:
    d = decision(
        requirement="optional", deadlines=deadlines(schedule_by=DAY, hold_by=5 * DAY, publish_by=3 * DAY)
    )
    assert open_deadlines(review([], decision=d)) == {"publish_by": at(3 * DAY)}


def test_the_action_review_is_met_once_every_item_is_completed() -> None:
    d = decision(deadlines=deadlines(action_review_at=32 * DAY))
    events = published_incident()
    assert open_deadlines(review(events, decision=d)) == {"action_review_at": at(32 * DAY)}
    done = [*events, event("actionitem.completed", 4 * DAY, {"item_id": "AI-2"})]
    assert next_deadline(review(done, decision=d)) is None


def test_a_listing_carries_the_reviews_headline() -> None:
    d = decision(severity="critical", deadlines=deadlines(publish_by=DAY))
    result = review([event("incident.declared", 0, {"title": "Checkout down", "severity": "P1"})], decision=d)
    listing = review_listing(result, updated_at=at(10))
    assert (listing.title, listing.severity, listing.requirement, listing.status) == (
        "Checkout down",
        Severity.CRITICAL,
        "mandatory",
        ReviewStatus.DRAFT,
    )
    assert listing.next_deadline == at(DAY)


def test_a_plain_date_falls_due_at_the_end_of_that_day_in_the_organisations_zone() -> None:
    assert due_moment("2026-12-01") == datetime(2026, 12, 2, tzinfo=UTC)
    assert due_moment("2026-12-01", ZoneInfo("America/New_York")) == datetime(2026, 12, 2, 5, tzinfo=UTC)
    assert due_moment("2026-12-01T10:00:00+02:00") == datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_action_item_rows_know_when_they_are_overdue() -> None:
    rows = {r.item_id: r for r in action_item_records(review(published_incident()))}
    assert rows["AI-1"].status == "completed" and rows["AI-1"].completed_at == at(3 * DAY)
    assert rows["AI-2"].due_at == datetime(2026, 12, 2, tzinfo=UTC)
    assert rows["AI-2"].overdue(datetime(2026, 12, 2, tzinfo=UTC))
    assert not rows["AI-2"].overdue(datetime(2026, 12, 1, 23, 59, tzinfo=UTC))
    assert not rows["AI-1"].overdue(datetime(2027, 1, 1, tzinfo=UTC))
