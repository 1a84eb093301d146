"""One reading of an incident's record: the fold every service builds its view with, and the proof that
policy, reminders and reports read the same record the same way."""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from majorops.policy.domain.facts import FACT_READERS, fold_facts
from majorops.reminders.domain.record import RECORD_READERS, read_record
from majorops.reports.domain.action_items import ACTION_ITEM_READERS
from majorops.reports.domain.attendees import ROSTER_READERS
from majorops.reports.domain.learning_review import assemble_learning_review
from majorops.reports.domain.timeline import SUMMARY_READERS
from majorops.reports.domain.vendors import VENDOR_READERS
from majorops.shared.events import EVENT_DATA_MODELS, AlertFired, CloudEvent, EventType
from majorops.shared.record import (
    EventFold,
    TypedEvent,
    distinct_events,
    earliest,
    in_event_order,
    latest,
    vendor_key,
)
from majorops.shared.testing import EXAMPLE_START, IncidentEvents, event_kinds_and_data

INC = "INC-1042"

VIEWS: dict[str, EventFold[Any]] = {
    "policy facts": FACT_READERS,
    "reminders record": RECORD_READERS,
    "reports action items": ACTION_ITEM_READERS,
    "reports summary": SUMMARY_READERS,
    "reports vendors": VENDOR_READERS,
    "reports attendees": ROSTER_READERS,
}


# --- the fold --------------------------------------------------------------------------------------


def alert_names(fold: list[str], read: TypedEvent[AlertFired]) -> None:
    fold.append(read.data.alert_name)


ALERTS: EventFold[list[str]] = EventFold({EventType.ALERT_FIRED: alert_names})


def test_a_fold_reads_the_types_of_its_table_with_their_typed_data_and_passes_over_the_rest() -> None:
    event = IncidentEvents(INC)
    record = [
        event("alert.fired", 0, alert_name="HighLatency"),
        event("incident.confirmed", 5),
        event("alert.fired", 7, alert_name="ErrorRate"),
    ]
    assert ALERTS.read_all([], record) == ["HighLatency", "ErrorRate"]
    assert [ALERTS.read([], e) for e in record] == [True, False, True]


def test_data_that_does_not_fit_its_type_raises_or_is_left_out_as_the_view_says() -> None:
    broken = IncidentEvents(INC).envelope("alert.fired", 0, alert_name="")
    event = CloudEvent.model_validate(broken)  # as an old record might hold it: never validated
    with pytest.raises(ValidationError):
        ALERTS.read([], event)
    lenient = EventFold(ALERTS.readers, skip_invalid=True)
    assert lenient.read_all([], [event]) == []


def test_each_event_counts_once_and_another_incidents_event_is_refused() -> None:
    event = IncidentEvents(INC)
    first, second = event("incident.confirmed", 5), event("incident.declared", 1, title="x", severity="P1")
    assert distinct_events(INC, [first, second, first]) == [first, second]
    assert in_event_order([first, second]) == [second, first]
    with pytest.raises(ValueError, match="belongs to incident 'INC-9'"):
        distinct_events(INC, [first, event("incident.closed", 9, incident="INC-9")])


def test_earliest_and_latest_follow_the_records_total_order() -> None:
    t = EXAMPLE_START
    assert earliest(None, t) == t
    assert earliest(t, t + timedelta(1)) == t
    assert latest(None, (t, "e-2"), "a") == ((t, "e-2"), "a")
    # Equal times: the event id breaks the tie, so every arrival order gives the same value.
    assert latest(((t, "e-2"), "a"), (t, "e-1"), "b") == ((t, "e-2"), "a")
    assert latest(((t, "e-1"), "b"), (t, "e-2"), "a") == ((t, "e-2"), "a")
    assert vendor_key(" Acme Cloud ") == vendor_key("acme cloud")


def data_models_read(reader: Any) -> set[type]:
    """The data models a reader's ``TypedEvent[...]`` parameter names."""
    hints = typing.get_type_hints(reader)
    (typed,) = [hint for name, hint in hints.items() if name != "return"][1:]
    (data,) = typing.get_args(typed)
    return set(typing.get_args(data)) if isinstance(data, types.UnionType) else {data}


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_every_row_of_every_view_reads_a_contract_type_through_its_own_data_model(view: str) -> None:
    for event_type, reader in VIEWS[view].readers.items():
        assert event_type in EVENT_DATA_MODELS, (view, event_type)
        assert EVENT_DATA_MODELS[event_type] in data_models_read(reader), (view, event_type, reader)


# --- three views of one record ---------------------------------------------------------------------

# Two weeks of quarter hours: the times that meetings and RCA dues name.
kinds_and_data = event_kinds_and_data(
    st.integers(0, 14 * 24 * 4).map(lambda q: EXAMPLE_START + timedelta(minutes=15 * q))
)


@st.composite
def histories(draw: st.DrawFn) -> list[CloudEvent]:
    """An incident's events at distinct times, in any arrival order, each action item created at most
    once and before it is updated.

    Outside these records the views differ on purpose, each documented where it is read: equal event
    times (policy and reminders break ties by event id, reports by arrival), a second creation of an
    item (reports keeps the first), a creation stamped after an update of the item (reports lets it
    reset the fields), an update that sends ``null`` (policy keeps the value) and MTM action items
    (not policy's open items)."""
    drawn = draw(st.lists(kinds_and_data, min_size=1, max_size=40))
    minutes = draw(
        st.lists(st.integers(0, 20 * 24 * 60), min_size=len(drawn), max_size=len(drawn), unique=True)
    )
    created: dict[str, int] = {}
    for (kind, data), at in zip(drawn, minutes, strict=True):
        if kind == "actionitem.created":
            created[data["item_id"]] = min(created.get(data["item_id"], at), at)
    event = IncidentEvents(INC)
    history = [
        event(kind, at, data)
        for (kind, data), at in zip(drawn, minutes, strict=True)
        if not (kind == "actionitem.created" and created[data["item_id"]] != at)
        and not (kind == "actionitem.updated" and created.get(data["item_id"], at) > at)
    ]
    return draw(st.permutations(history))


@settings(max_examples=200, deadline=None)
@given(history=histories())
def test_policy_reminders_and_reports_read_the_same_record_the_same_way(history: list[CloudEvent]) -> None:
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
    assert facts.root_cause is None or facts.root_cause.fingerprint == review.root_cause.fingerprint
    assert record.people.get("mim") == review.summary.mim

    # The After Action.
    assert facts.meeting_at == review.after_action.meeting_at
    assert len(record.reschedules) == review.after_action.reschedules
    assert (
        facts.after_action_held_at
        == record.earliest(EventType.AFTERACTION_HELD)
        == review.after_action.held_at
    )
    assert facts.review_published_at == record.earliest(EventType.REVIEW_PUBLISHED) == review.published_at

    # Action items: the same open items with the same fields, the same ones completed.
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

    # Vendors, matched by name the same way.
    in_reminders = [(v.name, v.engaged_at, v.rca_due_at, v.rca_received_at) for v in record.vendors]
    in_reports = [(v.vendor, v.engaged_at, v.rca_due, v.rca_received_at) for v in review.vendors]
    assert in_reminders == in_reports


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
