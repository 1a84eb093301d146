"""Heads-up reminders a day before a deadline, so the escalation does not have to happen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from majorops.reminders.domain.heads_up import HEADS_UP_LEAD, build_heads_up, next_heads_up, reminders_due
from majorops.reminders.domain.obligations import Obligation, derive_obligations
from majorops.reminders.domain.record import read_record
from majorops.shared.decisions import AfterActionDecision, Deadlines
from majorops.shared.escalations import HeadsUp, ObligationKind
from majorops.shared.testing import DAY, EXAMPLE_ACTION_ITEM, HOUR, IncidentEvents
from majorops.shared.testing import EXAMPLE_CLOSE as CLOSE
from majorops.shared.testing import EXAMPLE_INCIDENT as INC

HOLD_BY = CLOSE + 7 * DAY
DRAFT_DUE = CLOSE + 4 * DAY
PUBLISH_BY = CLOSE + 9 * DAY


ev = IncidentEvents(INC, prefix="hu", source="test")


def decision(requirement: str = "mandatory") -> AfterActionDecision:
    return AfterActionDecision(
        incident_id=INC,
        revision=5,
        requirement=requirement,
        closed_at=CLOSE,
        deadlines=Deadlines(
            schedule_by=CLOSE + DAY, hold_by=HOLD_BY, draft_due=DRAFT_DUE, publish_by=PUBLISH_BY
        ),
    )


def reminder_ids(obligations: list[Obligation], now: datetime) -> list[str]:
    return [p.reminder_id for p in reminders_due(obligations, now)]


def test_a_heads_up_a_day_before_each_deadline() -> None:
    obligations = derive_obligations(INC, [], decision())
    assert HEADS_UP_LEAD == timedelta(hours=24)
    assert reminder_ids(obligations, DRAFT_DUE - DAY - timedelta(seconds=1)) == []
    assert reminder_ids(obligations, DRAFT_DUE - DAY) == ["INC-1042:draft_due:heads_up"]
    assert reminder_ids(obligations, HOLD_BY - DAY) == ["INC-1042:hold_by:heads_up"]
    assert reminder_ids(obligations, PUBLISH_BY - HOUR) == ["INC-1042:publish_by:heads_up"]


@pytest.mark.parametrize(
    ("held_at", "sent"),
    [
        (HOLD_BY - 2 * DAY, []),  # done before the heads-up time
        (HOLD_BY - DAY, []),  # done exactly at the heads-up time
        (HOLD_BY - 2 * HOUR, ["INC-1042:hold_by:heads_up"]),  # done later: still worth the heads-up
        (None, ["INC-1042:hold_by:heads_up"]),
    ],
)
def test_no_heads_up_for_what_is_already_done(held_at: datetime | None, sent: list[str]) -> None:
    events = [] if held_at is None else [ev("afteraction.held", held_at)]
    obligations = [
        o
        for o in derive_obligations(INC, events, decision())
        if o.kind == ObligationKind.AFTER_ACTION_NOT_HELD
    ]
    assert reminder_ids(obligations, HOLD_BY - DAY) == sent


def test_no_stale_heads_up_once_the_deadline_passed() -> None:
    obligations = derive_obligations(INC, [], decision())
    assert reminder_ids(obligations, HOLD_BY - timedelta(seconds=1)) == ["INC-1042:hold_by:heads_up"]
    assert reminder_ids(obligations, HOLD_BY) == []  # the escalation takes over from here
    assert reminder_ids(obligations, PUBLISH_BY - HOUR) == ["INC-1042:publish_by:heads_up"]
    assert reminder_ids(obligations, PUBLISH_BY) == []


def test_a_meeting_scheduled_late_gets_its_draft_heads_up_at_once() -> None:
    obligations = [
        o for o in derive_obligations(INC, [], decision()) if o.kind == ObligationKind.DRAFT_NOT_DISTRIBUTED
    ]
    assert reminder_ids(obligations, DRAFT_DUE - 3 * HOUR) == ["INC-1042:draft_due:heads_up"]


def test_no_hold_by_heads_up_when_the_after_action_is_optional() -> None:
    ids = {
        p.reminder_id
        for p in reminders_due(derive_obligations(INC, [], decision("optional")), HOLD_BY - HOUR)
    }
    assert "INC-1042:hold_by:heads_up" not in ids


def test_action_item_owners_get_a_heads_up_per_item() -> None:
    events = [
        ev("actionitem.created", CLOSE, EXAMPLE_ACTION_ITEM),
        ev("actionitem.created", CLOSE, item_id="AI-8", title="Add alert", due="2026-12-01"),
        ev("actionitem.completed", CLOSE + DAY, item_id="AI-8"),
    ]
    obligations = derive_obligations(INC, events, None)
    start_of_due_day = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)

    (planned,) = reminders_due(obligations, start_of_due_day)
    heads_up = build_heads_up(planned, sent_at=start_of_due_day)

    assert heads_up.reminder_id == "INC-1042:action_item_due:AI-7:heads_up"
    assert heads_up.notify.model_dump() == {"role": "action_item_owner", "person": "Sam Lee"}
    assert heads_up.message == (
        'Heads-up: action item AI-7 "Raise pool size" of INC-1042 is due 2026-12-01, end of day (24 h left).'
    )


def test_the_heads_up_payload_notifies_the_mim() -> None:
    events = [ev("role.assigned", CLOSE - DAY, role="MIM", person="Dana Reyes")]
    obligations = derive_obligations(INC, events, decision())
    sent_at = HOLD_BY - DAY + timedelta(seconds=3)
    (planned,) = reminders_due(obligations, sent_at)

    heads_up = build_heads_up(planned, sent_at=sent_at, people=read_record(INC, events).people)

    wire = heads_up.model_dump(mode="json")
    assert wire["reminder_id"] == "INC-1042:hold_by:heads_up"
    assert wire["deadline"] == "hold_by" and wire["kind"] == "after_action_not_held"
    assert wire["due_at"] == "2026-11-27T12:00:00Z" and wire["remind_at"] == "2026-11-26T12:00:00Z"
    assert wire["notify"] == {"role": "mim", "person": "Dana Reyes"}
    assert "must be held by 2026-11-27 12:00 UTC" in heads_up.message
    assert HeadsUp.model_validate_json(heads_up.model_dump_json()) == heads_up


def test_next_heads_up_for_a_scheduler() -> None:
    obligations = derive_obligations(INC, [ev("afteraction.draft_distributed", CLOSE + DAY)], decision())
    # The draft went out before its heads-up time: the next one worth waking for is hold_by's.
    assert next_heads_up(obligations, CLOSE) == HOLD_BY - DAY
    assert next_heads_up(obligations, PUBLISH_BY) is None


def test_a_non_positive_lead_is_refused() -> None:
    with pytest.raises(ValueError, match="lead"):
        reminders_due([], CLOSE, timedelta(0))
