"""Properties of policy's domain that must hold for every history, not just the examples."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.decision import derive_decision
from majorops.policy.domain.facts import FactsAccumulator, fold_facts
from majorops.shared.events import CloudEvent
from majorops.shared.testing import IncidentEvents, event_kinds_and_data, iso

BASE = datetime(2026, 11, 20, tzinfo=UTC)
# Quarter-hour steps over two weeks: coarse enough that equal event times (ties) are common.
offsets = st.integers(0, 14 * 24 * 4).map(lambda quarters: BASE + timedelta(minutes=15 * quarters))
severities = st.sampled_from(["critical", "high", "medium", "low", "P1", "p2", "P3", "p4"])
kinds_and_data = event_kinds_and_data(offsets)


@st.composite
def histories(draw: st.DrawFn) -> list[CloudEvent]:
    """A random incident history built through the ingest validation, each event id unique."""
    drawn = draw(st.lists(st.tuples(kinds_and_data, offsets), min_size=1, max_size=30))
    event = IncidentEvents("INC-7", source="test")
    return [event(kind, at, data, event_id=f"e-{index}") for index, ((kind, data), at) in enumerate(drawn)]


CALENDAR = BusinessCalendar("Europe/Berlin", "DE")


@settings(max_examples=150, deadline=None)
@given(data=st.data(), events=histories())
def test_shuffled_and_duplicated_events_give_the_same_decision(
    data: st.DataObject, events: list[CloudEvent]
) -> None:
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=10))
    replay = data.draw(st.permutations([*events, *duplicates]))
    assert fold_facts(replay) == fold_facts(events)
    assert derive_decision(fold_facts(replay), ["INC-1"], CALENDAR) == derive_decision(
        fold_facts(events), ["INC-1"], CALENDAR
    )


@settings(max_examples=75, deadline=None)
@given(data=st.data(), events=histories())
def test_taking_facts_midway_never_changes_the_final_facts(
    data: st.DataObject, events: list[CloudEvent]
) -> None:
    accumulator = FactsAccumulator("INC-7")
    peeks = data.draw(st.lists(st.booleans(), min_size=len(events), max_size=len(events)))
    for single, peek in zip(events, peeks, strict=True):
        accumulator.add(single)
        if peek:
            accumulator.facts()
    assert accumulator.facts() == fold_facts(events)


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
HOLIDAY_CODES = [None, "US", "DE-BY", "GB"]


@functools.cache
def calendar(zone: str, holidays: str | None) -> BusinessCalendar:
    return BusinessCalendar(zone, holidays)


calendars = st.builds(calendar, st.sampled_from(ZONES), st.sampled_from(HOLIDAY_CODES))
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


def business_days_between(cal: BusinessCalendar, start: date, end: date) -> int:
    """Business days in (start, end]."""
    return sum(cal.is_business_day(start + timedelta(days=k)) for k in range(1, (end - start).days + 1))


@settings(max_examples=200, deadline=None)
@given(cal=calendars, t=instants, n=st.integers(1, 25))
def test_adding_business_days_lands_on_a_business_day_at_the_same_local_time(
    cal: BusinessCalendar, t: datetime, n: int
) -> None:
    result = cal.add_business_days(t, n)
    start, landing = cal.local(t), cal.local(result)
    assert result.tzinfo is UTC
    assert cal.is_business_day(landing.date())
    assert landing.date().weekday() < 5
    assert cal.holiday_name(landing.date()) is None
    assert landing.time() == start.time()
    assert business_days_between(cal, start.date(), landing.date()) == n
    assert result > t


@settings(max_examples=200, deadline=None)
@given(cal=calendars, a=instants, b=instants, n=st.integers(0, 15), more=st.integers(1, 5))
def test_adding_business_days_is_monotone(
    cal: BusinessCalendar, a: datetime, b: datetime, n: int, more: int
) -> None:
    early, late = sorted((a, b))
    due_early, due_late = cal.add_business_days(early, n), cal.add_business_days(late, n)
    # The landing day never goes backwards as the anchor moves forward ...
    assert cal.local(due_early).date() <= cal.local(due_late).date()
    # ... and within one local day, neither does the landing time. (Across days it can: a Friday
    # 15:00 and the next Saturday 10:00 both land on the next Friday, keeping their own time.)
    if (
        cal.local(early).date() == cal.local(late).date()
        and cal.local(early).time() <= cal.local(late).time()
    ):
        assert due_early <= due_late
    assert cal.add_business_days(early, n + more) > due_early


def anchored(
    kind: str, at: datetime, data: dict[str, Any] | None = None, severity: str = "P1"
) -> list[CloudEvent]:
    event = IncidentEvents("INC-7", source="test")
    return [
        event("incident.declared", BASE, {"title": "t", "severity": severity}, event_id="declared"),
        event(kind, at, data, event_id="anchor"),
    ]


@settings(max_examples=100, deadline=None)
@given(a=offsets, b=offsets, severity=severities)
def test_deadlines_are_monotone_in_their_anchors(a: datetime, b: datetime, severity: str) -> None:
    early, late = sorted((a, b))

    def deadlines(kind: str, at: datetime) -> dict[str, datetime | None]:
        data = {"meeting_at": iso(at)} if kind == "afteraction.scheduled" else {}
        return dict(derive_decision(fold_facts(anchored(kind, at, data, severity)), [], CALENDAR).deadlines)

    for kind, name in [
        ("incident.closed", "schedule_by"),
        ("afteraction.scheduled", "draft_due"),
        ("afteraction.held", "publish_by"),
        ("review.published", "action_review_at"),
    ]:
        first, second = deadlines(kind, early)[name], deadlines(kind, late)[name]
        assert first is not None and second is not None
        assert first - early == second - late
        assert first <= second
    hold_early, hold_late = (
        deadlines("incident.closed", early)["hold_by"],
        deadlines("incident.closed", late)["hold_by"],
    )
    assert hold_early is not None and hold_late is not None
    assert CALENDAR.local(hold_early).date() <= CALENDAR.local(hold_late).date()
