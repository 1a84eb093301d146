"""Reminders' obligations (CONTRACT §4 table): which exist, when they fall due, when they are met."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from majorops.reminders.domain.levels import levels_due
from majorops.reminders.domain.obligations import Obligation, derive_obligations
from majorops.shared.decisions import AfterActionDecision, Deadlines
from majorops.shared.escalations import ObligationKind as K
from majorops.shared.events import mtm_item_id
from majorops.shared.testing import DAY, EXAMPLE_ACTION_ITEM, HOUR, IncidentEvents, iso, mandatory_decision
from majorops.shared.testing import EXAMPLE_CLOSE as CLOSE
from majorops.shared.testing import EXAMPLE_INCIDENT as INC

MINUTE = timedelta(minutes=1)
FAR = CLOSE + timedelta(days=400)


ev = IncidentEvents(INC, prefix="ev", source="test")


def decision(**fields: Any) -> AfterActionDecision:
    fields.setdefault("requirement", "mandatory")
    return AfterActionDecision(incident_id=INC, revision=1, **fields)


MANDATORY_CLOSED = mandatory_decision(declared_at=CLOSE - 6 * HOUR, resolved_at=CLOSE - HOUR)


def of_kind(obligations: list[Obligation], kind: K) -> list[Obligation]:
    return [o for o in obligations if o.kind == kind]


def only(obligations: list[Obligation], kind: K) -> Obligation:
    found = of_kind(obligations, kind)
    assert len(found) == 1, f"expected one {kind}, got {found}"
    return found[0]


def fired_levels(obligation: Obligation, interval: timedelta = DAY) -> list[int]:
    return [int(p.level) for p in levels_due([obligation], FAR, interval)]


# --- incident-wide rows: met before due / after due / never -------------------------------------

DRAFT_DUE = CLOSE + 3 * DAY
PUBLISH_BY = CLOSE + 6 * DAY
DECLARED = CLOSE - 10 * HOUR

INCIDENT_WIDE = {
    # kind: (decision, due, the event type that meets it, its data)
    K.AFTER_ACTION_NOT_SCHEDULED: (
        MANDATORY_CLOSED,
        CLOSE + DAY,
        "afteraction.scheduled",
        {"meeting_at": iso(CLOSE + 5 * DAY)},
    ),
    K.AFTER_ACTION_NOT_HELD: (MANDATORY_CLOSED, CLOSE + 7 * DAY, "afteraction.held", {}),
    K.DRAFT_NOT_DISTRIBUTED: (
        decision(requirement="optional", deadlines=Deadlines(draft_due=DRAFT_DUE)),
        DRAFT_DUE,
        "afteraction.draft_distributed",
        {},
    ),
    K.REVIEW_NOT_PUBLISHED: (
        decision(requirement="recommended", deadlines=Deadlines(publish_by=PUBLISH_BY)),
        PUBLISH_BY,
        "review.published",
        {},
    ),
    K.MTM_RECOMMENDED: (
        decision(requirement="mandatory", severity="critical", declared_at=DECLARED),
        DECLARED + 2 * HOUR,
        "incident.resolved",
        {},
    ),
}
SINGLE_LEVEL = {K.MTM_RECOMMENDED, K.AFTER_ACTION_RESCHEDULED_REPEATEDLY}


@pytest.mark.parametrize("kind", list(INCIDENT_WIDE))
@pytest.mark.parametrize(
    ("scenario", "offset", "three_levels", "one_level"),
    [
        ("met well before due", -HOUR, [], []),
        ("met exactly at due", timedelta(0), [], []),
        ("met an hour after due", HOUR, [1], [1]),
        ("met between level 2 and 3", DAY + HOUR, [1, 2], [1]),
        ("never met", None, [1, 2, 3], [1]),
    ],
)
def test_incident_wide_obligation_is_met_by_its_event(
    kind: K,
    scenario: str,
    offset: timedelta | None,
    three_levels: list[int],
    one_level: list[int],
) -> None:
    the_decision, due, meeting_type, data = INCIDENT_WIDE[kind]
    events = [ev("incident.declared", DECLARED, title="Checkout latency", severity="critical")]
    if offset is not None:
        events.append(ev(meeting_type, due + offset, **data))

    obligation = only(derive_obligations(INC, events, the_decision), kind)

    assert obligation.due_at == due
    assert obligation.met_at == (None if offset is None else due + offset)
    expected = one_level if kind in SINGLE_LEVEL else three_levels
    if kind == K.MTM_RECOMMENDED and offset is not None:
        # A suggestion for the incident in progress: read after the resolution, it is never sent.
        expected = []
    assert fired_levels(obligation) == expected, scenario


@pytest.mark.parametrize(
    ("why", "the_decision"),
    [
        (
            "only recommended",
            decision(
                requirement="recommended",
                closed_at=CLOSE,
                deadlines=Deadlines(schedule_by=CLOSE + DAY, hold_by=CLOSE + 7 * DAY),
            ),
        ),
        ("not closed yet", decision(requirement="mandatory", closed_at=None)),
    ],
)
def test_after_action_obligations_need_mandatory_and_closed(
    why: str, the_decision: AfterActionDecision
) -> None:
    kinds = {o.kind for o in derive_obligations(INC, [], the_decision)}
    assert K.AFTER_ACTION_NOT_SCHEDULED not in kinds, why
    assert K.AFTER_ACTION_NOT_HELD not in kinds, why


def test_no_decision_yet_gives_only_the_rows_read_from_events() -> None:
    events = [
        ev("actionitem.created", CLOSE, item_id="AI-7", title="Fix pool", due=iso(CLOSE + DAY)),
        ev("afteraction.rescheduled", CLOSE + HOUR, meeting_at=iso(CLOSE + 3 * DAY)),
        ev("afteraction.rescheduled", CLOSE + 2 * HOUR, meeting_at=iso(CLOSE + 4 * DAY)),
        ev("vendor.engaged", CLOSE - DAY, vendor="Acme"),
    ]
    kinds = sorted(o.kind.value for o in derive_obligations(INC, events, None))
    assert kinds == ["action_item_overdue", "after_action_rescheduled_repeatedly"]


def test_a_decision_of_another_incident_is_refused() -> None:
    with pytest.raises(ValueError, match="INC-9"):
        derive_obligations("INC-9", [], MANDATORY_CLOSED)


def test_an_event_of_another_incident_is_refused() -> None:
    with pytest.raises(ValueError, match="belongs to incident 'INC-7'"):
        derive_obligations(INC, [ev("incident.closed", CLOSE, incident="INC-7")], None)


# --- mtm_recommended ----------------------------------------------------------------------------


def test_mtm_recommended_only_for_critical_incidents() -> None:
    high = decision(requirement="mandatory", severity="high", declared_at=DECLARED)
    assert of_kind(derive_obligations(INC, [], high), K.MTM_RECOMMENDED) == []


def test_mtm_recommended_not_for_an_incident_raised_to_critical_after_its_recovery() -> None:
    events = [
        ev("incident.declared", DECLARED, title="Checkout latency", severity="high"),
        ev("incident.resolved", DECLARED + 3 * HOUR),
        ev("incident.updated", DECLARED + 5 * HOUR, severity="P1"),
    ]
    critical = decision(severity="critical", declared_at=DECLARED, resolved_at=DECLARED + 3 * HOUR)
    assert of_kind(derive_obligations(INC, events, critical), K.MTM_RECOMMENDED) == []


def test_mtm_recommended_met_by_resolution_known_only_to_the_decision() -> None:
    critical = decision(
        severity="critical", declared_at=DECLARED, resolved_at=DECLARED + 90 * timedelta(minutes=1)
    )
    mtm = only(derive_obligations(INC, [], critical), K.MTM_RECOMMENDED)
    assert mtm.met_at == DECLARED + 90 * timedelta(minutes=1)
    assert fired_levels(mtm) == []


def test_mtm_recommended_fires_live_while_the_record_shows_no_resolution() -> None:
    critical = decision(severity="critical", declared_at=DECLARED)
    events = [ev("incident.declared", DECLARED, title="Checkout latency", severity="critical")]
    mtm = only(derive_obligations(INC, events, critical), K.MTM_RECOMMENDED)
    assert [int(p.level) for p in levels_due([mtm], DECLARED + 2 * HOUR, DAY)] == [1]


def test_mtm_recommended_is_not_sent_once_the_record_shows_the_incident_resolved() -> None:
    # The README's quick start: declared 09:14, resolved 11:29, posted together afterwards. The
    # suggestion "still unresolved 2 h after declaration" would be false when read: not sent.
    declared = datetime(2026, 11, 20, 9, 14, tzinfo=UTC)
    events = [
        ev("incident.declared", declared, title="Checkout latency", severity="P1"),
        ev("incident.resolved", declared + timedelta(hours=2, minutes=15)),
    ]
    critical = decision(severity="critical", declared_at=declared, resolved_at=declared + 135 * MINUTE)
    mtm = only(derive_obligations(INC, events, critical), K.MTM_RECOMMENDED)
    assert mtm.expired
    assert levels_due([mtm], FAR, DAY) == []


# --- after_action_rescheduled_repeatedly --------------------------------------------------------


def test_one_reschedule_is_no_pattern() -> None:
    events = [ev("afteraction.rescheduled", CLOSE + DAY, meeting_at=iso(CLOSE + 4 * DAY))]
    assert (
        of_kind(derive_obligations(INC, events, MANDATORY_CLOSED), K.AFTER_ACTION_RESCHEDULED_REPEATEDLY)
        == []
    )


def test_rescheduled_repeatedly_is_due_at_the_second_reschedule_by_event_time_and_fires_once() -> None:
    times = [CLOSE + 3 * DAY, CLOSE + DAY, CLOSE + 2 * DAY]  # arrival order differs from event time
    events = [ev("afteraction.rescheduled", t, meeting_at=iso(t + 2 * DAY)) for t in times]

    obligation = only(
        derive_obligations(INC, events, MANDATORY_CLOSED), K.AFTER_ACTION_RESCHEDULED_REPEATEDLY
    )

    assert obligation.due_at == CLOSE + 2 * DAY
    assert obligation.met_at is None
    assert obligation.reschedules == 3
    assert fired_levels(obligation) == [1]


# --- action items -------------------------------------------------------------------------------


def test_action_item_overdue_per_item_with_a_due() -> None:
    events = [
        ev("actionitem.created", CLOSE, EXAMPLE_ACTION_ITEM, owner="Sam", due=iso(CLOSE + 3 * DAY)),
        ev("actionitem.created", CLOSE, item_id="AI-8", title="Add alert", due=iso(CLOSE + 2 * DAY)),
        ev("actionitem.created", CLOSE, item_id="AI-9", title="No date yet"),
        ev("actionitem.completed", CLOSE + DAY, item_id="AI-8"),
    ]
    overdue = of_kind(derive_obligations(INC, events, None), K.ACTION_ITEM_OVERDUE)

    assert [(o.item, o.due_at, o.met_at) for o in overdue] == [
        ("AI-8", CLOSE + 2 * DAY, CLOSE + DAY),
        ("AI-7", CLOSE + 3 * DAY, None),
    ]
    assert overdue[1].action_item is not None and overdue[1].action_item.owner == "Sam"


def test_the_latest_due_by_event_time_wins_whatever_the_arrival_order() -> None:
    events = [
        ev("actionitem.updated", CLOSE + 2 * HOUR, item_id="AI-7", due=iso(CLOSE + 9 * DAY)),
        ev("actionitem.created", CLOSE, item_id="AI-7", title="Raise pool size", due=iso(CLOSE + 3 * DAY)),
        ev("actionitem.updated", CLOSE + HOUR, item_id="AI-7", due=iso(CLOSE + 5 * DAY)),
    ]
    assert only(derive_obligations(INC, events, None), K.ACTION_ITEM_OVERDUE).due_at == CLOSE + 9 * DAY


def test_an_update_that_withdraws_the_due_drops_the_obligation() -> None:
    created = ev("actionitem.created", CLOSE, item_id="AI-7", title="Raise pool size", due=iso(CLOSE + DAY))
    withdrawn = ev("actionitem.updated", CLOSE + HOUR, item_id="AI-7", due=None)
    assert of_kind(derive_obligations(INC, [created, withdrawn], None), K.ACTION_ITEM_OVERDUE) == []


@pytest.mark.parametrize(
    ("completed_at", "levels"),
    [
        (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), []),  # first moment of the due day
        (datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC), []),  # last second of the due day
        (datetime(2026, 12, 2, 0, 0, tzinfo=UTC), []),  # exactly the due time: counts as met
        (datetime(2026, 12, 2, 0, 0, 1, tzinfo=UTC), [1]),
        (None, [1, 2, 3]),
    ],
)
def test_a_plain_date_due_means_by_the_end_of_that_day_utc(
    completed_at: datetime | None, levels: list[int]
) -> None:
    events = [ev("actionitem.created", CLOSE, item_id="AI-7", title="Raise pool size", due="2026-12-01")]
    if completed_at is not None:
        events.append(ev("actionitem.completed", completed_at, item_id="AI-7"))

    obligation = only(derive_obligations(INC, events, None), K.ACTION_ITEM_OVERDUE)

    assert obligation.due_at == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    assert fired_levels(obligation) == levels


def test_a_plain_date_due_ends_at_midnight_in_the_organisation_time_zone() -> None:
    events = [ev("actionitem.created", CLOSE, item_id="AI-7", title="Raise pool size", due="2026-12-01")]
    obligation = only(
        derive_obligations(INC, events, None, timezone=ZoneInfo("Europe/Berlin")), K.ACTION_ITEM_OVERDUE
    )
    assert obligation.due_at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


def test_mtm_action_items_get_stable_ids_and_can_be_completed_by_them() -> None:
    mtm = ev(
        "mtm.held",
        CLOSE - 4 * HOUR,
        notes="first MTM",
        action_items=[
            {"title": "Page the DBA on-call", "owner": "Ana", "due": iso(CLOSE)},
            {"title": "Draft customer notice", "due": "2026-11-21"},
            {"title": "No due"},
        ],
    )
    first, second = mtm_item_id(mtm.id, 0), mtm_item_id(mtm.id, 1)
    completed = ev("actionitem.completed", CLOSE - HOUR, item_id=first)

    overdue = of_kind(derive_obligations(INC, [mtm, completed], None), K.ACTION_ITEM_OVERDUE)

    assert {o.item for o in overdue} == {first, second}
    assert all(re.fullmatch(r"MTM-[0-9a-f]{10}", o.item or "") for o in overdue)
    assert len({first, second, mtm_item_id(mtm.id, 2)}) == 3
    assert mtm_item_id(mtm.id, 0) == first  # the same event always gives the same id
    by_item = {o.item: o for o in overdue}
    assert by_item[first].met_at == CLOSE - HOUR and fired_levels(by_item[first]) == []
    second_item = by_item[second].action_item
    assert second_item is not None and second_item.title == "Draft customer notice"
    assert fired_levels(by_item[second]) == [1, 2, 3]


# --- action_items_open_at_review ----------------------------------------------------------------

PUBLISHED = CLOSE + 5 * DAY
REVIEW_AT = PUBLISHED + 30 * DAY
REVIEWED = decision(requirement="mandatory", deadlines=Deadlines(action_review_at=REVIEW_AT))


@pytest.mark.parametrize(
    ("completions", "levels"),
    [
        ({"AI-1": PUBLISHED, "AI-2": REVIEW_AT - HOUR}, []),
        ({"AI-1": PUBLISHED, "AI-2": REVIEW_AT}, []),  # the last one exactly at the review
        ({"AI-1": PUBLISHED, "AI-2": REVIEW_AT + HOUR}, [1]),
        ({"AI-1": REVIEW_AT + DAY + HOUR, "AI-2": PUBLISHED}, [1, 2]),
        ({"AI-1": PUBLISHED}, [1, 2, 3]),
    ],
)
def test_action_items_open_at_review_is_met_when_the_last_item_is_completed(
    completions: dict[str, datetime], levels: list[int]
) -> None:
    events = [ev("review.published", PUBLISHED)]
    events += [ev("actionitem.created", CLOSE, item_id=i, title=f"Item {i}") for i in ("AI-1", "AI-2")]
    events += [ev("actionitem.completed", at, item_id=i) for i, at in completions.items()]

    obligation = only(derive_obligations(INC, events, REVIEWED), K.ACTION_ITEMS_OPEN_AT_REVIEW)

    assert obligation.due_at == REVIEW_AT
    assert fired_levels(obligation) == levels


def test_an_item_first_named_after_the_review_is_not_open_at_the_review() -> None:
    events = [
        ev("review.published", PUBLISHED),
        ev("actionitem.created", CLOSE, item_id="AI-1", title="Done in time"),
        ev("actionitem.completed", PUBLISHED + DAY, item_id="AI-1"),
        ev("actionitem.created", REVIEW_AT + HOUR, item_id="AI-2", title="Came later"),
    ]
    obligation = only(derive_obligations(INC, events, REVIEWED), K.ACTION_ITEMS_OPEN_AT_REVIEW)
    assert [i.item_id for i in obligation.review_scope] == ["AI-1"]
    assert fired_levels(obligation) == []


def test_no_action_items_at_all_means_nothing_is_open_at_the_review() -> None:
    obligation = only(
        derive_obligations(INC, [ev("review.published", PUBLISHED)], REVIEWED), K.ACTION_ITEMS_OPEN_AT_REVIEW
    )
    assert obligation.met_at is not None and obligation.met_at <= REVIEW_AT
    assert fired_levels(obligation) == []


# --- vendors ------------------------------------------------------------------------------------


def test_vendor_rca_not_committed_per_engaged_vendor_once_closed() -> None:
    events = [
        ev("vendor.engaged", CLOSE - 5 * HOUR, vendor="Acme Cloud"),
        ev("vendor.engaged", CLOSE - 4 * HOUR, vendor="DNSCo"),
        ev("vendor.engaged", CLOSE - 3 * HOUR, vendor="PayGate"),
        ev("vendor.rca_committed", CLOSE - HOUR, vendor="acme cloud ", due=iso(CLOSE + 10 * DAY)),
        ev("vendor.rca_received", CLOSE + 2 * HOUR, vendor="DNSCo"),
    ]
    rows = of_kind(derive_obligations(INC, events, MANDATORY_CLOSED), K.VENDOR_RCA_NOT_COMMITTED)

    assert [(o.item, o.due_at, fired_levels(o)) for o in rows] == [
        ("Acme Cloud", CLOSE, []),
        ("DNSCo", CLOSE, [1]),
        ("PayGate", CLOSE, [1, 2, 3]),
    ]


def test_vendor_rca_not_committed_waits_for_the_close() -> None:
    open_incident = decision(requirement="mandatory", closed_at=None)
    events = [ev("vendor.engaged", CLOSE, vendor="Acme")]
    assert of_kind(derive_obligations(INC, events, open_incident), K.VENDOR_RCA_NOT_COMMITTED) == []


@pytest.mark.parametrize(
    ("received", "levels"),
    [(CLOSE + 9 * DAY, []), (CLOSE + 12 * DAY, []), (CLOSE + 12 * DAY + HOUR, [1]), (None, [1, 2, 3])],
)
def test_vendor_rca_overdue_uses_the_latest_committed_date(
    received: datetime | None, levels: list[int]
) -> None:
    events = [
        ev("vendor.rca_committed", CLOSE + 2 * DAY, vendor="Acme", due=iso(CLOSE + 12 * DAY)),
        ev("vendor.rca_committed", CLOSE + DAY, vendor="Acme", due=iso(CLOSE + 7 * DAY)),
    ]
    if received is not None:
        events.append(ev("vendor.rca_received", received, vendor="ACME", url="https://acme.example/rca"))

    obligation = only(derive_obligations(INC, events, None), K.VENDOR_RCA_OVERDUE)

    assert (obligation.item, obligation.due_at) == ("Acme", CLOSE + 12 * DAY)
    assert fired_levels(obligation) == levels


def test_the_same_event_id_twice_counts_once() -> None:
    created = ev("actionitem.created", CLOSE, item_id="AI-7", title="Raise pool size", due=iso(CLOSE + DAY))
    assert derive_obligations(INC, [created, created], None) == derive_obligations(INC, [created], None)
