"""Escalation levels in event time (CONTRACT §4): what fires, when, and that arrival order never matters."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majorops.reminders.domain.levels import (
    EscalationLevel,
    levels_due,
    next_wakeup,
    plan_levels,
)
from majorops.reminders.domain.obligations import Obligation, derive_obligations
from majorops.reminders.domain.record import read_record
from majorops.shared.escalations import ObligationKind as K
from majorops.shared.events import CloudEvent
from majorops.shared.testing import DAY, HOUR, IncidentEvents, iso, mandatory_decision, with_deadlines
from majorops.shared.testing import EXAMPLE_CLOSE as CLOSE
from majorops.shared.testing import EXAMPLE_INCIDENT as INC

ev = IncidentEvents(INC, prefix="lv", source="test")


DECISION = mandatory_decision(revision=3, declared_at=CLOSE - 6 * HOUR, resolved_at=CLOSE - HOUR)


def ids(planned: list[Any]) -> list[str]:
    return [p.escalation_id for p in planned]


def not_scheduled(met_at: datetime | None) -> Obligation:
    return Obligation(INC, K.AFTER_ACTION_NOT_SCHEDULED, due_at=CLOSE + DAY, met_at=met_at)


def test_the_contract_example_scheduled_30_h_after_close_fires_level_1_only() -> None:
    events = [
        ev("incident.declared", CLOSE - 6 * HOUR, title="Checkout latency", severity="critical"),
        ev("incident.resolved", CLOSE - HOUR),
        ev("incident.closed", CLOSE),
        ev("afteraction.scheduled", CLOSE + 30 * HOUR, meeting_at=iso(CLOSE + 4 * DAY)),
    ]
    # The whole history replayed in one burst, long after the fact.
    obligations = derive_obligations(INC, events, DECISION)
    fired = [
        p
        for p in levels_due(obligations, CLOSE + 300 * DAY, DAY)
        if p.obligation.kind == K.AFTER_ACTION_NOT_SCHEDULED
    ]
    assert ids(fired) == ["INC-1042:after_action_not_scheduled:1"]

    # Live: at the due time nothing met it yet; after the scheduling arrives, nothing more fires.
    before = derive_obligations(INC, events[:3], DECISION)
    live_first = [
        p for p in levels_due(before, CLOSE + DAY, DAY) if p.obligation.kind == K.AFTER_ACTION_NOT_SCHEDULED
    ]
    assert ids(live_first) == ["INC-1042:after_action_not_scheduled:1"]
    assert [p.escalation_id for p in fired] == [p.escalation_id for p in live_first]


@pytest.mark.parametrize(
    ("met_at", "fired"),
    [
        (CLOSE + DAY - timedelta(microseconds=1), []),
        (CLOSE + DAY, []),  # exactly at level 1's time: met
        (CLOSE + DAY + timedelta(microseconds=1), [1]),
        (CLOSE + 2 * DAY, [1]),  # exactly at level 2's time: met
        (CLOSE + 2 * DAY + timedelta(seconds=1), [1, 2]),
        (CLOSE + 3 * DAY, [1, 2]),  # exactly at level 3's time: met
        (CLOSE + 3 * DAY + timedelta(seconds=1), [1, 2, 3]),
        (None, [1, 2, 3]),
    ],
)
def test_a_meeting_event_at_a_level_time_counts_as_met(met_at: datetime | None, fired: list[int]) -> None:
    due = levels_due([not_scheduled(met_at)], CLOSE + 30 * DAY, DAY)
    assert [int(p.level) for p in due] == fired


@pytest.mark.parametrize(
    ("now", "fired"),
    [
        (CLOSE + DAY - timedelta(seconds=1), []),
        (CLOSE + DAY, [1]),
        (CLOSE + 2 * DAY - timedelta(seconds=1), [1]),
        (CLOSE + 2 * DAY, [1, 2]),
        (CLOSE + 3 * DAY, [1, 2, 3]),
    ],
)
def test_levels_come_due_at_due_plus_multiples_of_the_interval(now: datetime, fired: list[int]) -> None:
    assert [int(p.level) for p in levels_due([not_scheduled(None)], now, DAY)] == fired


def test_a_short_interval_brings_levels_closer() -> None:
    planned = plan_levels(not_scheduled(None), timedelta(seconds=2))
    assert [p.at - CLOSE - DAY for p in planned] == [timedelta(0), timedelta(seconds=2), timedelta(seconds=4)]


def test_a_backdated_incident_escalates_every_passed_level_at_once() -> None:
    old = Obligation(INC, K.AFTER_ACTION_NOT_HELD, due_at=CLOSE - 90 * DAY)
    assert ids(levels_due([old], CLOSE, DAY)) == [
        "INC-1042:after_action_not_held:1",
        "INC-1042:after_action_not_held:2",
        "INC-1042:after_action_not_held:3",
    ]


@pytest.mark.parametrize("kind", [K.MTM_RECOMMENDED, K.AFTER_ACTION_RESCHEDULED_REPEATEDLY])
def test_the_last_two_kinds_have_level_1_only(kind: K) -> None:
    obligation = Obligation(INC, kind, due_at=CLOSE)
    assert [int(p.level) for p in levels_due([obligation], CLOSE + 100 * DAY, DAY)] == [1]


def test_levels_name_who_they_notify() -> None:
    assert [level.role for level in EscalationLevel] == ["mim", "service_manager", "engineering_director"]


def test_per_item_levels_carry_the_item_in_their_id() -> None:
    item = Obligation(INC, K.ACTION_ITEM_OVERDUE, due_at=CLOSE, item="AI-7")
    vendor = Obligation(INC, K.VENDOR_RCA_OVERDUE, due_at=CLOSE, item="Acme Cloud")
    assert ids(levels_due([item, vendor], CLOSE + DAY, DAY)) == [
        "INC-1042:action_item_overdue:AI-7:1",
        "INC-1042:vendor_rca_overdue:Acme Cloud:1",
        "INC-1042:action_item_overdue:AI-7:2",
        "INC-1042:vendor_rca_overdue:Acme Cloud:2",
    ]


def test_an_item_is_required_exactly_for_the_per_item_kinds() -> None:
    with pytest.raises(ValueError, match="item"):
        Obligation(INC, K.ACTION_ITEM_OVERDUE, due_at=CLOSE)
    with pytest.raises(ValueError, match="item"):
        Obligation(INC, K.AFTER_ACTION_NOT_HELD, due_at=CLOSE, item="AI-7")


@pytest.mark.parametrize("interval", [timedelta(0), timedelta(seconds=-1)])
def test_a_non_positive_interval_is_refused(interval: timedelta) -> None:
    with pytest.raises(ValueError, match="positive"):
        levels_due([not_scheduled(None)], CLOSE, interval)


def test_next_wakeup_is_the_next_level_that_would_fire() -> None:
    unmet = not_scheduled(None)
    assert next_wakeup([unmet], CLOSE, DAY) == CLOSE + DAY
    assert next_wakeup([unmet], CLOSE + DAY, DAY) == CLOSE + 2 * DAY  # level 1 is due now, not later
    assert next_wakeup([unmet], CLOSE + 3 * DAY, DAY) is None
    # Met between level 1 and 2: levels 2 and 3 will never fire, so there is nothing to wake for.
    assert next_wakeup([not_scheduled(CLOSE + 30 * HOUR)], CLOSE + DAY, DAY) is None
    met_early = Obligation(INC, K.AFTER_ACTION_NOT_HELD, due_at=CLOSE + 7 * DAY, met_at=CLOSE + 2 * DAY)
    assert next_wakeup([met_early, unmet], CLOSE, DAY) == CLOSE + DAY
    assert next_wakeup([], CLOSE, DAY) is None


# --- order independence -------------------------------------------------------------------------

REVIEW_AT = CLOSE + 40 * DAY
FULL_DECISION = with_deadlines(
    DECISION, draft_due=CLOSE + 3 * DAY, publish_by=CLOSE + 7 * DAY, action_review_at=REVIEW_AT
)
HISTORY = [
    ev("incident.declared", CLOSE - 6 * HOUR, title="Checkout latency", severity="critical"),
    ev("role.assigned", CLOSE - 6 * HOUR, role="mim", person="Dana Reyes"),
    ev("role.assigned", CLOSE - 5 * HOUR, role="mim", person="Lee Chen"),
    ev("vendor.engaged", CLOSE - 5 * HOUR, vendor="Acme"),
    ev("vendor.engaged", CLOSE - 5 * HOUR, vendor="DNSCo"),
    ev("mtm.held", CLOSE - 3 * HOUR, action_items=[{"title": "Page DBA", "due": "2026-11-21"}]),
    ev("incident.resolved", CLOSE - HOUR),
    ev("incident.closed", CLOSE),
    ev("vendor.rca_committed", CLOSE + 2 * HOUR, vendor="Acme", due=iso(CLOSE + 9 * DAY)),
    ev("vendor.rca_committed", CLOSE + 3 * HOUR, vendor="Acme", due=iso(CLOSE + 12 * DAY)),
    ev("actionitem.created", CLOSE + HOUR, item_id="AI-7", title="Pool size", due=iso(CLOSE + 5 * DAY)),
    ev("actionitem.updated", CLOSE + 2 * HOUR, item_id="AI-7", due=iso(CLOSE + 6 * DAY)),
    # Same time as the update above: the event id breaks the tie, whatever the arrival order.
    ev("actionitem.updated", CLOSE + 2 * HOUR, item_id="AI-7", due=iso(CLOSE + 8 * DAY)),
    ev("actionitem.completed", CLOSE + 7 * DAY, item_id="AI-7"),
    ev("afteraction.scheduled", CLOSE + 30 * HOUR, meeting_at=iso(CLOSE + 5 * DAY)),
    ev("afteraction.rescheduled", CLOSE + 2 * DAY, meeting_at=iso(CLOSE + 6 * DAY)),
    ev("afteraction.rescheduled", CLOSE + 2 * DAY, meeting_at=iso(CLOSE + 7 * DAY)),
    ev("afteraction.draft_distributed", CLOSE + 4 * DAY),
    ev("afteraction.held", CLOSE + 7 * DAY + HOUR),
    ev("review.published", CLOSE + 10 * DAY),
]


@settings(max_examples=60, deadline=None)
@given(order=st.permutations(HISTORY), repeats=st.lists(st.sampled_from(HISTORY), max_size=5))
def test_shuffled_and_redelivered_events_give_the_same_obligations_and_escalations(
    order: list[CloudEvent], repeats: list[CloudEvent]
) -> None:
    expected = derive_obligations(INC, HISTORY, FULL_DECISION)
    got = derive_obligations(INC, [*order, *repeats], FULL_DECISION)
    assert got == expected
    assert read_record(INC, [*repeats, *order]) == read_record(INC, HISTORY)
    assert read_record(INC, order).people == {"mim": "Lee Chen"}
    for now in (CLOSE + DAY, CLOSE + 8 * DAY, CLOSE + 100 * DAY):
        assert ids(levels_due(got, now, DAY)) == ids(levels_due(expected, now, DAY))


# Meeting events only: they never move a due time, so evaluating live (events arriving at their
# own time, the clock ticking at arbitrary moments) must fire exactly what one late replay fires.
MEETING_TYPES = {
    "afteraction.scheduled": {"meeting_at": iso(CLOSE + 5 * DAY)},
    "afteraction.held": {},
    "afteraction.draft_distributed": {},
    "review.published": {},
    "actionitem.completed": {"item_id": "AI-7"},
    "vendor.rca_received": {"vendor": "Acme"},
}
BASE = [
    ev("incident.declared", CLOSE - 6 * HOUR, title="Checkout latency", severity="critical"),
    ev("vendor.engaged", CLOSE - 5 * HOUR, vendor="Acme"),
    ev("vendor.rca_committed", CLOSE - 4 * HOUR, vendor="Acme", due=iso(CLOSE + 9 * DAY)),
    ev("actionitem.created", CLOSE - 4 * HOUR, item_id="AI-7", title="Pool size", due=iso(CLOSE + 5 * DAY)),
]
offsets = st.integers(min_value=-2 * 24 * 60, max_value=20 * 24 * 60).map(lambda m: timedelta(minutes=m))


@settings(max_examples=80, deadline=None)
@given(
    meetings=st.dictionaries(st.sampled_from(sorted(MEETING_TYPES)), offsets),
    ticks=st.lists(offsets, max_size=12),
    interval_hours=st.sampled_from([1, 24, 72]),
)
def test_live_evaluation_fires_exactly_what_a_late_replay_fires(
    meetings: dict[str, timedelta], ticks: list[timedelta], interval_hours: int
) -> None:
    interval = timedelta(hours=interval_hours)
    events = BASE + [ev(type_, CLOSE + offset, **MEETING_TYPES[type_]) for type_, offset in meetings.items()]
    end = CLOSE + 60 * DAY

    published: set[str] = set()
    for tick in sorted({CLOSE + t for t in ticks} | {end}):
        arrived = [e for e in events if e.occurred_at <= tick]
        published |= set(ids(levels_due(derive_obligations(INC, arrived, FULL_DECISION), tick, interval)))

    replay = set(ids(levels_due(derive_obligations(INC, events, FULL_DECISION), end, interval)))
    assert published == replay
