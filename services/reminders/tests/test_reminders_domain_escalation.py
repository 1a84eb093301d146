"""The escalation payload people receive (CONTRACT §4): id, who is notified, and what it says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from majorops.reminders.domain.escalation import build_escalation, describe_span, format_moment
from majorops.reminders.domain.levels import EscalationLevel, PlannedEscalation, levels_due, plan_levels
from majorops.reminders.domain.obligations import Obligation, derive_obligations
from majorops.reminders.domain.record import read_record
from majorops.shared.decisions import Deadlines
from majorops.shared.escalations import Escalation, ObligationKind
from majorops.shared.testing import (
    DAY,
    EXAMPLE_ACTION_ITEM,
    HOUR,
    IncidentEvents,
    contract_example_escalation,
    iso,
    mandatory_decision,
    with_deadlines,
)
from majorops.shared.testing import EXAMPLE_CLOSE as CLOSE
from majorops.shared.testing import EXAMPLE_INCIDENT as INC

ev = IncidentEvents(INC, prefix="es", source="test")


DECISION = mandatory_decision(revision=4, declared_at=CLOSE - 3 * HOUR)


def level(obligation: Obligation, number: int, interval: timedelta = DAY) -> PlannedEscalation:
    return plan_levels(obligation, interval)[number - 1]


def test_the_contract_example_payload() -> None:
    events = [ev("role.assigned", CLOSE - 3 * HOUR, role="mim", person="Dana Reyes")]
    record = read_record(INC, events)
    obligations = derive_obligations(INC, events, DECISION)
    (planned,) = [
        p
        for p in levels_due(obligations, CLOSE + DAY, DAY)
        if p.obligation.kind == ObligationKind.AFTER_ACTION_NOT_SCHEDULED
    ]

    escalation = build_escalation(
        planned, fired_at=datetime(2026, 11, 21, 12, 0, 3, tzinfo=UTC), people=record.people
    )

    wire, example = escalation.model_dump(mode="json"), contract_example_escalation()
    del example["message"]  # the contract abbreviates it; the full text is checked below
    assert {k: wire[k] for k in example} == example
    assert escalation.message == (
        "After Action for INC-1042 not scheduled within 24 h of close (due 2026-11-21 12:00 UTC); schedule it now."
    )
    assert Escalation.model_validate_json(escalation.model_dump_json()) == escalation


def test_each_level_notifies_the_latest_assignee_of_its_role() -> None:
    events = [
        ev("role.assigned", CLOSE - 2 * HOUR, role="service_manager", person="Priya Nair"),
        # Assigned earlier, arrives later: the latest by event time still wins.
        ev("role.assigned", CLOSE - 3 * HOUR, role="service_manager", person="Old Assignee"),
        ev("role.assigned", CLOSE - 3 * HOUR, role="mim", person="@dreyes"),
    ]
    people = read_record(INC, events).people
    obligation = Obligation(INC, ObligationKind.AFTER_ACTION_NOT_HELD, due_at=CLOSE + 7 * DAY)

    notified = [
        build_escalation(level(obligation, n), fired_at=CLOSE + 10 * DAY, people=people).notify.model_dump()
        for n in (1, 2, 3)
    ]

    assert notified == [
        {"role": "mim", "person": "@dreyes"},
        {"role": "service_manager", "person": "Priya Nair"},
        {"role": "engineering_director", "person": None},
    ]


def test_per_item_escalations_carry_the_item() -> None:
    item = Obligation(INC, ObligationKind.ACTION_ITEM_OVERDUE, due_at=CLOSE, item="AI-7")
    escalation = build_escalation(level(item, 1), fired_at=CLOSE)
    assert (escalation.escalation_id, escalation.item) == ("INC-1042:action_item_overdue:AI-7:1", "AI-7")

    vendor = Obligation(INC, ObligationKind.VENDOR_RCA_NOT_COMMITTED, due_at=CLOSE, item="Acme")
    escalation = build_escalation(level(vendor, 2), fired_at=CLOSE + DAY)
    assert (escalation.escalation_id, escalation.item) == ("INC-1042:vendor_rca_not_committed:Acme:2", "Acme")


def every_kind() -> list[Obligation]:
    events = [
        ev("incident.declared", CLOSE - 3 * HOUR, title="Checkout latency", severity="critical"),
        ev("vendor.engaged", CLOSE - 2 * HOUR, vendor="Acme Cloud"),
        ev("vendor.rca_committed", CLOSE + HOUR, vendor="Acme Cloud", due=iso(CLOSE + 9 * DAY)),
        ev("actionitem.created", CLOSE, EXAMPLE_ACTION_ITEM),
        ev("actionitem.created", CLOSE, item_id="AI-8", title="Add saturation alert"),
        ev("afteraction.rescheduled", CLOSE + DAY, meeting_at=iso(CLOSE + 5 * DAY)),
        ev("afteraction.rescheduled", CLOSE + 2 * DAY, meeting_at=iso(CLOSE + 6 * DAY)),
        ev("afteraction.held", CLOSE + 6 * DAY),
        ev("review.published", CLOSE + 10 * DAY),
    ]
    decision = with_deadlines(
        DECISION, draft_due=CLOSE + 4 * DAY, publish_by=CLOSE + 8 * DAY, action_review_at=CLOSE + 40 * DAY
    )
    return derive_obligations(INC, events, decision)


@pytest.mark.parametrize("kind", list(ObligationKind))
def test_every_kind_has_a_sentence_naming_the_incident_its_due_and_what_to_do(kind: ObligationKind) -> None:
    obligation = next(o for o in every_kind() if o.kind == kind)
    message = build_escalation(level(obligation, 1), fired_at=CLOSE + 50 * DAY).message

    assert INC in message
    assert format_moment(obligation.due_at) in message or "2026-12-01, end of day" in message
    assert obligation.item is None or obligation.item in message
    assert message.endswith(".") and ";" in message  # what is wrong; what to do


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        (ObligationKind.AFTER_ACTION_NOT_HELD, "not held by its deadline"),
        (ObligationKind.DRAFT_NOT_DISTRIBUTED, "draft for INC-1042 not distributed"),
        (ObligationKind.REVIEW_NOT_PUBLISHED, "Learning Review for INC-1042 not published"),
        (
            ObligationKind.ACTION_ITEM_OVERDUE,
            'Action item AI-7 "Raise pool size" of INC-1042 not completed by its due date (2026-12-01, end of day); Sam Lee:',
        ),
        (ObligationKind.VENDOR_RCA_NOT_COMMITTED, "Vendor Acme Cloud has not committed an RCA date"),
        (ObligationKind.VENDOR_RCA_OVERDUE, "Vendor Acme Cloud's RCA for INC-1042 not received"),
        (ObligationKind.AFTER_ACTION_RESCHEDULED_REPEATEDLY, "rescheduled 2 times"),
        (ObligationKind.MTM_RECOMMENDED, "still unresolved 2 h after declaration"),
        (
            ObligationKind.ACTION_ITEMS_OPEN_AT_REVIEW,
            "2 action items of INC-1042 still open at the action item review",
        ),
    ],
)
def test_messages_say_what_is_missing(kind: ObligationKind, fragment: str) -> None:
    obligation = next(o for o in every_kind() if o.kind == kind)
    assert fragment in build_escalation(level(obligation, 1), fired_at=CLOSE + 50 * DAY).message


def test_the_review_message_lists_only_the_items_still_open_at_that_level() -> None:
    review_at = CLOSE + 40 * DAY
    decision = DECISION.model_copy(update={"deadlines": Deadlines(action_review_at=review_at)})
    events = [
        ev("review.published", CLOSE + 10 * DAY),
        ev("actionitem.created", CLOSE, item_id="AI-7", title="Raise pool size", owner="Sam Lee"),
        ev("actionitem.created", CLOSE, item_id="AI-8", title="Add saturation alert"),
        ev("actionitem.completed", review_at + HOUR, item_id="AI-7"),
    ]
    (obligation,) = [
        o
        for o in derive_obligations(INC, events, decision)
        if o.kind == ObligationKind.ACTION_ITEMS_OPEN_AT_REVIEW
    ]

    first = build_escalation(level(obligation, 1), fired_at=review_at).message
    second = build_escalation(level(obligation, 2), fired_at=review_at + DAY).message

    assert "2 action items" in first and "AI-7 (Sam Lee), AI-8 (no owner)" in first
    assert "1 action item of" in second and "AI-8 (no owner)" in second and "AI-7" not in second


def test_higher_levels_say_how_long_it_has_been_open_and_who_now_has_it() -> None:
    obligation = Obligation(INC, ObligationKind.AFTER_ACTION_NOT_HELD, due_at=CLOSE + 7 * DAY)
    second = build_escalation(level(obligation, 2), fired_at=CLOSE + 8 * DAY).message
    third = build_escalation(level(obligation, 3, timedelta(hours=36)), fired_at=CLOSE + 10 * DAY).message
    assert second.endswith("Still open 24 h after it was due: escalated to the service manager (level 2).")
    assert third.endswith("Still open 3 d after it was due: escalated to the engineering director (level 3).")
    assert EscalationLevel.SERVICE_MANAGER.role == "service_manager"


def test_an_owner_less_overdue_item_asks_for_an_owner() -> None:
    events = [ev("actionitem.created", CLOSE, item_id="AI-9", title="Tune pool", due=iso(CLOSE + DAY))]
    (obligation,) = derive_obligations(INC, events, None)
    assert (
        "it has no owner: assign one" in build_escalation(level(obligation, 1), fired_at=CLOSE + DAY).message
    )


def test_a_naive_fired_at_is_refused() -> None:
    obligation = Obligation(INC, ObligationKind.AFTER_ACTION_NOT_HELD, due_at=CLOSE)
    with pytest.raises(ValueError, match="timezone-aware"):
        build_escalation(level(obligation, 1), fired_at=datetime(2026, 11, 21, 12, 0))


@pytest.mark.parametrize(
    ("span", "said"),
    [
        (timedelta(seconds=2), "2 s"),
        (timedelta(seconds=2.5), "2.5 s"),
        (timedelta(minutes=90), "1 h 30 min"),
        (timedelta(minutes=5), "5 min"),
        (timedelta(hours=24), "24 h"),
        (timedelta(hours=30), "30 h"),
        (timedelta(days=2), "2 d"),
        (timedelta(days=3, hours=4), "3 d 4 h"),
    ],
)
def test_spans_read_as_people_say_them(span: timedelta, said: str) -> None:
    assert describe_span(span) == said


def test_moments_read_in_utc() -> None:
    assert (
        format_moment(datetime(2026, 11, 21, 13, 0, tzinfo=UTC) + timedelta(seconds=5))
        == "2026-11-21 13:00:05 UTC"
    )
    assert format_moment(datetime.fromisoformat("2026-11-21T14:00:00+01:00")) == "2026-11-21 13:00 UTC"
