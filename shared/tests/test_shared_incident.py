"""One reading of an incident: the read model every service builds on, its decided edge cases, and
the proof that policy, reminders and reports show the same facts for any history."""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majorops.policy.domain.facts import OpenActionItem, fold_facts
from majorops.reminders.domain.obligations import derive_obligations
from majorops.reminders.domain.record import read_record
from majorops.reports.domain.learning_review import assemble_learning_review
from majorops.shared.events import EVENT_DATA_MODELS, CloudEvent, EventType, mtm_item_id
from majorops.shared.incident import IncidentReader, read_incident
from majorops.shared.incident.order import distinct_events, event_key, in_event_order, vendor_key
from majorops.shared.incident.readers import READERS
from majorops.shared.testing import EXAMPLE_START, IncidentEvents, event_kinds_and_data

INC = "INC-1042"


def at(minute: int) -> datetime:
    return EXAMPLE_START + timedelta(minutes=minute)


# --- the read model ------------------------------------------------------------------------------


def test_each_event_counts_once_and_another_incidents_event_is_refused() -> None:
    event = IncidentEvents(INC)
    first, second = event("incident.confirmed", 5), event("incident.declared", 1, title="x", severity="P1")
    assert distinct_events(INC, [first, second, first]) == [first, second]
    assert in_event_order([first, second]) == [second, first]
    assert read_incident([first, second, first]).event_count == 2
    with pytest.raises(ValueError, match="belongs to incident 'INC-9'"):
        read_incident([first, event("incident.closed", 9, incident="INC-9")])
    with pytest.raises(ValueError, match="no events"):
        read_incident([])
    assert read_incident([], INC).incident_id == INC
    assert vendor_key(" Acme Cloud ") == vendor_key("acme cloud")


def test_data_that_does_not_fit_its_type_counts_by_its_time_and_says_nothing() -> None:
    broken = IncidentEvents(INC).envelope("alert.fired", 0, alert_name="")
    event = CloudEvent.model_validate(broken)  # as an old record might hold it: never validated
    incident = read_incident([event])
    assert (incident.alerted_at, incident.alerts) == (at(0), ())


def data_models_read(reader: Any) -> set[type]:
    """The data models a reader's ``TypedEvent[...]`` parameter names."""
    hints = typing.get_type_hints(reader)
    (typed,) = [hint for name, hint in hints.items() if name != "return"][1:]
    (data,) = typing.get_args(typed)
    return set(typing.get_args(data)) if isinstance(data, types.UnionType) else {data}


def test_every_row_of_the_table_reads_a_contract_type_through_its_own_data_model() -> None:
    for event_type, reader in READERS.items():
        assert event_type in EVENT_DATA_MODELS, event_type
        assert EVENT_DATA_MODELS[event_type] in data_models_read(reader), (event_type, reader)


# --- the six decided cases (CONTRACT §1 "Reading an incident") -----------------------------------


def test_equal_times_are_ordered_by_event_id() -> None:
    event = IncidentEvents(INC)
    later_id = event("afteraction.scheduled", 10, meeting_at="2026-11-25T10:00:00Z", event_id="b")
    earlier_id = event("afteraction.scheduled", 10, meeting_at="2026-11-26T10:00:00Z", event_id="a")
    for history in ([later_id, earlier_id], [earlier_id, later_id]):
        assert read_incident(history).after_action.meeting_at == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert event_key(earlier_id) < event_key(later_id)


def test_at_one_instant_a_thing_begins_then_changes_then_ends_whatever_the_ids() -> None:
    """A writer whose clock steps by whole seconds (a ticketing system, a frozen test clock) stamps
    an item's creation, update and completion alike: the life rank keeps them in that order, so the
    update is not undone by the creation, in any service."""
    event = IncidentEvents(INC)
    history = [
        event("actionitem.completed", 5, item_id="A1", event_id="a-done"),
        event("actionitem.updated", 5, item_id="A1", due="2026-12-15", event_id="b-update"),
        event("actionitem.created", 5, item_id="A1", title="Fix pool", due="2026-11-25", event_id="c-create"),
    ]
    for arrival in (history, history[::-1]):
        (item,) = read_incident(arrival).action_items
        assert (item.due, item.completed_at) == ("2026-12-15", at(5))
        assert [change.kind for change in item.history] == ["created", "updated", "completed"]
        (shown,) = assemble_learning_review(arrival, None, [], None).action_items
        assert (shown.due, shown.status) == ("2026-12-15", "completed")
    assert [e.type.rsplit(".", 1)[1] for e in in_event_order(history)] == ["created", "updated", "completed"]


def test_null_in_an_update_clears_the_field() -> None:
    event = IncidentEvents(INC)
    history = [
        event("actionitem.created", 1, item_id="A1", title="Fix pool", owner="dana", due="2026-12-01"),
        event("actionitem.updated", 2, {"item_id": "A1", "owner": None}),
    ]
    (item,) = read_incident(history).action_items
    assert (item.owner, item.due) == (None, "2026-12-01")
    assert fold_facts(history).open_action_items == (OpenActionItem("A1", "Fix pool", None, "2026-12-01"),)


def test_a_second_creation_updates_the_fields_it_sends() -> None:
    event = IncidentEvents(INC)
    history = [
        event("actionitem.created", 1, item_id="A1", title="Fix pool", owner="dana"),
        event("actionitem.created", 5, item_id="A1", title="Fix the pool"),
    ]
    (item,) = read_incident(history).action_items
    assert (item.title, item.owner, item.created_at) == ("Fix the pool", "dana", at(1))
    assert [change.kind for change in item.history] == ["created", "created"]


def test_a_creation_stamped_after_an_update_wins_only_for_what_it_sends() -> None:
    event = IncidentEvents(INC)
    history = [
        event("actionitem.updated", 1, item_id="A1", owner="kim", due="2026-12-15"),
        event("actionitem.created", 3, item_id="A1", title="Fix pool", owner="dana"),
    ]
    (item,) = read_incident(history).action_items
    assert (item.title, item.owner, item.due) == ("Fix pool", "dana", "2026-12-15")
    assert (item.first_seen_at, item.created_at) == (at(1), at(3))


def test_mtm_action_items_are_action_items_of_the_incident_everywhere() -> None:
    event = IncidentEvents(INC)
    mtm = event("mtm.held", 4, action_items=[{"title": "Add pool alarm", "owner": "sam"}])
    history = [event("incident.declared", 0, title="x", severity="P1"), mtm]
    item_id = mtm_item_id(mtm.id, 0)
    (item,) = read_incident(history).action_items
    assert (item.item_id, item.origin, item.is_open) == (item_id, "mtm", True)
    assert fold_facts(history).open_action_items == (OpenActionItem(item_id, "Add pool alarm", "sam"),)
    assert [i.from_mtm for i in read_record(INC, history).action_items] == [True]
    review = assemble_learning_review(history, None, [], None)
    assert [(i.item_id, i.source) for i in review.action_items] == [(item_id, "mtm")]


def test_two_rca_commitments_at_one_instant_the_greater_id_wins() -> None:
    event = IncidentEvents(INC)
    history = [
        event("vendor.rca_committed", 30, vendor="Acme", due="2026-12-10T00:00:00Z", event_id="e-2"),
        event("vendor.rca_committed", 30, vendor="acme", due="2026-12-03T00:00:00Z", event_id="e-10"),
    ]
    due = datetime(2026, 12, 10, tzinfo=UTC)  # "e-2" > "e-10": ids compare as text
    for arrival in (history, history[::-1]):
        assert read_incident(arrival).vendors[0].rca_due == due
        assert read_record(INC, arrival).vendors[0].rca_due_at == due
        assert assemble_learning_review(arrival, None, [], None).vendors[0].rca_due == due


# --- three views of one record, for any history --------------------------------------------------

# Two weeks of quarter hours: the times that meetings and RCA dues name.
kinds_and_data = event_kinds_and_data(
    st.integers(0, 14 * 24 * 4).map(lambda q: EXAMPLE_START + timedelta(minutes=15 * q))
)


@st.composite
def histories(draw: st.DrawFn) -> list[CloudEvent]:
    """Any history of an incident, in any arrival order, some events delivered twice: times drawn
    from a few minutes so that equal times are common, items created twice, created after an
    update, updated with ``null``, created by an MTM, RCA dates committed at one instant."""
    drawn = draw(st.lists(kinds_and_data, min_size=1, max_size=40))
    minutes = draw(st.lists(st.integers(0, 12), min_size=len(drawn), max_size=len(drawn)))
    event = IncidentEvents(INC)
    history = [event(kind, minute * 10, data) for (kind, data), minute in zip(drawn, minutes, strict=True)]
    redelivered = draw(st.lists(st.sampled_from(history), max_size=5))
    return draw(st.permutations(history + redelivered))


@settings(max_examples=300, deadline=None)
@given(history=histories())
def test_policy_reminders_and_reports_show_the_same_facts(history: list[CloudEvent]) -> None:
    facts = fold_facts(history)
    record = read_record(INC, history)
    review = assemble_learning_review(history, None, [], None)

    # The incident itself.
    assert facts.severity == review.summary.severity
    assert facts.duration_seconds == review.summary.duration_seconds
    assert facts.customer_impact == bool(review.summary.customer_impact)
    assert facts.declared_at == record.earliest(EventType.INCIDENT_DECLARED)
    assert facts.resolved_at == record.earliest(EventType.INCIDENT_RESOLVED)
    assert facts.closed_at == record.earliest(EventType.INCIDENT_CLOSED)
    assert (facts.root_cause.fingerprint if facts.root_cause else None) == review.root_cause.fingerprint
    assert record.people.get("mim") == review.summary.mim == review.attendees.required[0].person

    # The After Action.
    assert facts.meeting_at == review.after_action.meeting_at
    assert len(record.reschedules) == review.after_action.reschedules
    assert (
        facts.after_action_held_at
        == record.earliest(EventType.AFTERACTION_HELD)
        == review.after_action.held_at
    )
    assert facts.review_published_at == record.earliest(EventType.REVIEW_PUBLISHED) == review.published_at

    # Action items, MTM items included: the same open items with the same fields, the same ones done.
    open_in_policy = {i.item_id: (i.title, i.owner, i.due) for i in facts.open_action_items}
    open_in_reminders = {
        i.item_id: (i.title or i.item_id, i.owner, i.due_as_given)
        for i in record.action_items
        if i.completed_at is None
    }
    open_in_reports = {
        i.item_id: (i.title, i.owner, i.due) for i in review.action_items if i.status == "open"
    }
    assert open_in_policy == open_in_reminders == open_in_reports
    done_in_reminders = {i.item_id: i.completed_at for i in record.action_items if i.completed_at is not None}
    done_in_reports = {i.item_id: i.completed_at for i in review.action_items if i.completed_at is not None}
    assert done_in_reminders == done_in_reports
    assert {i.item_id for i in record.action_items if i.from_mtm} == {
        i.item_id for i in review.action_items if i.source == "mtm"
    }

    # Vendors, matched by name the same way, with the same RCA date chased and shown.
    in_reminders = [(v.name, v.engaged_at, v.rca_due_at, v.rca_received_at) for v in record.vendors]
    in_reports = [(v.vendor, v.engaged_at, v.rca_due, v.rca_received_at) for v in review.vendors]
    assert in_reminders == in_reports

    # An item reminders chases is the item the review shows, owner and due alike.
    in_review = {i.item_id: (i.owner, i.due) for i in review.action_items}
    for obligation in derive_obligations(INC, history, None):
        if (item := obligation.action_item) is not None:
            assert in_review[item.item_id] == (item.owner, item.due_as_given)

    # The timeline lists every event once, in the one order.
    assert [e.event_id for e in review.timeline] == [
        e.id for e in in_event_order(distinct_events(INC, history))
    ]


@settings(max_examples=200, deadline=None)
@given(history=histories(), data=st.data())
def test_reading_one_event_at_a_time_in_any_order_reads_the_same_incident(
    history: list[CloudEvent], data: st.DataObject
) -> None:
    reader = IncidentReader(INC)
    for event in data.draw(st.permutations(history)):
        reader.add(event)
        if data.draw(st.booleans()):
            reader.incident()
    assert reader.incident() == read_incident(history)


def test_the_contract_example_reads_alike_in_all_three() -> None:
    event = IncidentEvents(INC)
    history = [
        event("alert.fired", "2026-11-20T09:00:00Z", alert_name="HighLatency"),
        event(
            "incident.declared",
            "2026-11-20T09:14:00Z",
            title="Checkout latency",
            severity="P1",
            customer_impact=True,
        ),
        event("incident.resolved", "2026-11-20T11:15:00Z"),
        event("incident.closed", "2026-11-20T12:00:00Z"),
    ]
    facts, review = fold_facts(history), assemble_learning_review(history, None, [], None)
    assert (facts.severity, facts.duration_seconds) == (
        review.summary.severity,
        review.summary.duration_seconds,
    )
    assert facts.duration_seconds == 8100
    assert read_record(INC, history).earliest(EventType.INCIDENT_CLOSED) == datetime(
        2026, 11, 20, 12, tzinfo=UTC
    )
