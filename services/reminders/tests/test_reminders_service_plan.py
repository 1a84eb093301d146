"""What the scheduler sends for one incident at one moment, and when it looks again (pure, no I/O)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from majorops.reminders.domain.record import read_record
from majorops.reminders.plan import IncidentPlan, NoticeCategory, plan_incident
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.events import CloudEvent
from majorops.shared.testing import DAY, HOUR, IncidentEvents, iso, mandatory_decision
from majorops.shared.testing import EXAMPLE_CLOSE as CLOSE

INC = "INC-7"
SCHEDULE_BY = CLOSE + DAY
HOLD_BY = CLOSE + 7 * DAY


ev = IncidentEvents(INC, prefix="pl", source="test")


DECISION = mandatory_decision(INC, 2, severity="high")
MIM = ev("role.assigned", CLOSE - HOUR, role="mim", person="Dana Reyes")


def plan(
    events: list[CloudEvent],
    now: datetime,
    sent: set[str] | None = None,
    decision: AfterActionDecision | None = DECISION,
) -> IncidentPlan:
    return plan_incident(read_record(INC, events), decision, sent=sent or set(), now=now, interval=DAY)


def ids(p: IncidentPlan) -> list[str]:
    return [n.notice_id for n in p.notices]


def test_before_anything_is_due_it_sleeps_until_the_first_level() -> None:
    p = plan([MIM], CLOSE)
    assert p.notices == ()
    assert p.next_fire_at == SCHEDULE_BY
    assert p.pending == 2  # not scheduled, not held
    assert {o.kind: o.next_fire_at for o in p.obligations} == {
        "after_action_not_scheduled": SCHEDULE_BY,
        # Its heads-up comes a day before hold_by.
        "after_action_not_held": HOLD_BY - DAY,
    }


def test_a_due_level_is_a_notice_ready_to_publish_and_then_the_next_level_is_awaited() -> None:
    now = SCHEDULE_BY + timedelta(seconds=3)
    p = plan([MIM], now)
    assert ids(p) == [f"{INC}:after_action_not_scheduled:1"]
    notice = p.notices[0]
    assert notice.category is NoticeCategory.ESCALATION
    assert notice.subject == f"majorops.escalations.{INC}.after_action_not_scheduled"
    assert notice.due_at == SCHEDULE_BY
    body = json.loads(notice.payload)
    assert body["escalation_id"] == notice.notice_id
    assert (body["fired_at"], body["due_at"]) == ("2026-11-21T12:00:03Z", "2026-11-21T12:00:00Z")
    assert body["notify"] == {"role": "mim", "person": "Dana Reyes"}
    assert p.next_fire_at == SCHEDULE_BY + DAY  # level 2
    assert p.waiting_since == SCHEDULE_BY


def test_what_was_sent_is_never_sent_again() -> None:
    now = SCHEDULE_BY + 3 * DAY
    sent = {f"{INC}:after_action_not_scheduled:1", f"{INC}:after_action_not_scheduled:2"}
    p = plan([MIM], now, sent)
    assert ids(p) == [f"{INC}:after_action_not_scheduled:3"]
    everything = sent | set(ids(p))
    assert plan([MIM], now, everything).notices == ()


def test_a_met_obligation_is_not_waited_for() -> None:
    scheduled = ev("afteraction.scheduled", CLOSE + 30 * HOUR, meeting_at=iso(CLOSE + 3 * DAY))
    sent = {f"{INC}:after_action_not_scheduled:1"}
    p = plan([MIM, scheduled], SCHEDULE_BY + timedelta(hours=7), sent)
    assert p.notices == ()
    [not_scheduled] = [o for o in p.obligations if o.kind == "after_action_not_scheduled"]
    assert (not_scheduled.met_at, not_scheduled.next_fire_at) == (CLOSE + 30 * HOUR, None)
    assert p.next_fire_at == HOLD_BY - DAY


def test_the_30_hour_example_replayed_late_fires_level_1_only() -> None:
    scheduled = ev("afteraction.scheduled", CLOSE + 30 * HOUR, meeting_at=iso(CLOSE + 3 * DAY))
    held = ev("afteraction.held", CLOSE + 3 * DAY)
    p = plan([MIM, scheduled, held], CLOSE + 60 * DAY)
    assert ids(p) == [f"{INC}:after_action_not_scheduled:1"]
    assert p.next_fire_at is None
    assert p.pending == 0


def test_a_heads_up_goes_out_within_the_lead_and_never_after_the_deadline() -> None:
    before = plan(
        [MIM], HOLD_BY - DAY - HOUR, sent={f"{INC}:after_action_not_scheduled:{n}" for n in (1, 2, 3)}
    )
    assert before.next_fire_at == HOLD_BY - DAY
    within = plan(
        [MIM], HOLD_BY - 2 * HOUR, sent={f"{INC}:after_action_not_scheduled:{n}" for n in (1, 2, 3)}
    )
    assert ids(within) == [f"{INC}:hold_by:heads_up"]
    assert within.notices[0].subject == f"majorops.reminders.{INC}.hold_by"
    assert within.notices[0].category is NoticeCategory.HEADS_UP
    assert within.next_fire_at == HOLD_BY
    late = plan([MIM], HOLD_BY + HOUR, sent={f"{INC}:after_action_not_scheduled:{n}" for n in (1, 2, 3)})
    assert ids(late) == [f"{INC}:after_action_not_held:1"]


def test_without_a_decision_only_event_obligations_exist() -> None:
    item = ev(
        "actionitem.created", CLOSE, item_id="AI-1", title="Alarm", owner="Ravi", due=iso(CLOSE + 2 * DAY)
    )
    p = plan([MIM, item], CLOSE, decision=None)
    assert [o.kind for o in p.obligations] == ["action_item_overdue"]
    assert p.next_fire_at == CLOSE + DAY  # the heads-up, a day before
    assert plan([MIM], CLOSE, decision=None).next_fire_at is None


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan([MIM], datetime(2026, 11, 21, 12, 0))


# --- catch-up: late levels, superseded levels, levels already met ------------------------------


def escalations(p: IncidentPlan) -> dict[str, dict[str, Any]]:
    return {n.notice_id: json.loads(n.payload) for n in p.notices if n.category == NoticeCategory.ESCALATION}


def test_a_backdated_obligation_fires_every_level_marked_late_and_superseded_by_the_highest() -> None:
    # Closed five days ago with no After Action scheduled: levels 1–3 of after_action_not_scheduled
    # all fell due more than one interval ago and fire together.
    now = CLOSE + 5 * DAY
    fired = escalations(plan([MIM], now))
    top = f"{INC}:after_action_not_scheduled:3"
    assert {i: (e["late"], e["superseded_by"]) for i, e in fired.items()} == {
        f"{INC}:after_action_not_scheduled:1": (True, top),
        f"{INC}:after_action_not_scheduled:2": (True, top),
        top: (True, None),
    }
    assert "Sent late: this level fell due 2026-11-23 12:00 UTC" in fired[top]["message"]
    assert "escalated to the engineering director (level 3)" in fired[top]["message"]


def test_a_level_fired_on_time_is_neither_late_nor_superseded() -> None:
    fired = escalations(plan([MIM], SCHEDULE_BY + timedelta(seconds=3)))
    assert [(e["level"], e["late"], e["superseded_by"], e["met_at"]) for e in fired.values()] == [
        (1, False, None, None)
    ]


def test_a_lower_level_already_due_is_superseded_only_by_a_higher_level_due_by_the_same_moment() -> None:
    # Down for 25 h after level 1 fell due: level 1 is late and superseded by level 2; level 3 is not due.
    fired = escalations(plan([MIM], SCHEDULE_BY + DAY + HOUR))
    assert {i: (e["late"], e["superseded_by"]) for i, e in fired.items()} == {
        f"{INC}:after_action_not_scheduled:1": (True, f"{INC}:after_action_not_scheduled:2"),
        f"{INC}:after_action_not_scheduled:2": (False, None),
    }


def test_a_level_fired_after_its_obligation_was_met_says_so_instead_of_asking_for_it() -> None:
    # Scheduled 30 h after close, the history replayed days later: level 1 fires (event time), but
    # the record shows the meeting scheduled, so the message must not say "schedule it now".
    scheduled = ev("afteraction.scheduled", CLOSE + 30 * HOUR, meeting_at=iso(CLOSE + 4 * DAY))
    fired = escalations(plan([MIM, scheduled], CLOSE + 5 * DAY))
    assert list(fired) == [f"{INC}:after_action_not_scheduled:1"]
    level_1 = fired[f"{INC}:after_action_not_scheduled:1"]
    assert level_1["met_at"] == iso(CLOSE + 30 * HOUR)
    assert "schedule it now" not in level_1["message"]
    assert "done 6 h after it was due (2026-11-21 18:00 UTC)" in level_1["message"]
    assert "nothing to do now" in level_1["message"]
