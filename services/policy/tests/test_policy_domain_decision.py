"""The decision document and repeat incidents across the fingerprint index (CONTRACT §3)."""

from __future__ import annotations

from datetime import UTC, datetime

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.decision import derive_decision, open_items_of
from majorops.policy.domain.facts import IncidentFacts, fold_facts
from majorops.policy.domain.repeats import (
    RootCauseSighting,
    find_repeat_of,
    incidents_to_reevaluate,
    later_repeats_of,
)
from majorops.shared import testing
from majorops.shared.decisions import DecisionContent, EarlierOpenActionItem, Requirement
from majorops.shared.events import CloudEvent, validate_event
from majorops.shared.testing import IncidentEvents

event = IncidentEvents("INC-1042", source="pagerduty/prod")


def contract_example_events() -> list[CloudEvent]:
    return [validate_event(raw) for raw in testing.contract_example_events()]


def test_the_contract_example_decision() -> None:
    content = derive_decision(fold_facts(contract_example_events()), [], BusinessCalendar())
    published = content.with_revision(4).model_dump(mode="json")
    assert published == testing.contract_example_published()


def test_content_survives_a_json_round_trip_and_a_published_decision_unchanged() -> None:
    content = derive_decision(fold_facts(contract_example_events()), [], BusinessCalendar())
    assert DecisionContent.model_validate_json(content.model_dump_json()) == content
    assert DecisionContent.of_decision(content.with_revision(7)) == content


def test_a_new_fact_changes_the_content_and_a_timeline_note_does_not() -> None:
    events = contract_example_events()
    before = derive_decision(fold_facts(events), [], BusinessCalendar())
    note = event(
        "timeline.logged", "2026-11-20T12:30:00Z", {"text": "Customers notified"}, incident="INC-1042"
    )
    assert derive_decision(fold_facts([*events, note]), [], BusinessCalendar()) == before
    held = event("afteraction.held", "2026-11-25T10:00:00Z", incident="INC-1042")
    after = derive_decision(fold_facts([*events, held]), [], BusinessCalendar())
    assert after != before
    assert after.deadlines.publish_by == datetime(2026, 11, 27, 10, tzinfo=UTC)


def root_caused(incident: str, identified_at: str, fingerprint: str = "db-pool-exhaustion") -> IncidentFacts:
    return fold_facts(
        [
            event(
                "incident.declared",
                "2026-11-01T09:00:00Z",
                {"title": "DB", "severity": "low"},
                incident=incident,
            ),
            event("rootcause.identified", identified_at, {"fingerprint": fingerprint}, incident=incident),
            event(
                "actionitem.created",
                identified_at,
                {"item_id": "AI-1", "title": "Pool alarm"},
                incident=incident,
            ),
            event(
                "actionitem.created", identified_at, {"item_id": "AI-2", "title": "Done"}, incident=incident
            ),
            event("actionitem.completed", identified_at, {"item_id": "AI-2"}, incident=incident),
        ]
    )


def sightings(*all_facts: IncidentFacts) -> list[RootCauseSighting]:
    return [s for facts in all_facts if (s := RootCauseSighting.of(facts)) is not None]


def test_a_repeat_is_mandatory_and_names_the_earlier_incidents_open_action_items() -> None:
    first = root_caused("INC-1", "2026-11-01T10:00:00Z")
    second = root_caused("INC-2", "2026-11-10T10:00:00Z")
    unrelated = root_caused("INC-3", "2026-11-02T10:00:00Z", fingerprint="dns-ttl")
    index = sightings(first, second, unrelated)
    repeat_of = find_repeat_of(RootCauseSighting.of(second), index)
    assert repeat_of == ("INC-1",)
    decision = derive_decision(
        second,
        repeat_of,
        BusinessCalendar(),
        [*open_items_of(unrelated), *open_items_of(first)],
    )
    assert decision.requirement == Requirement.MANDATORY
    assert decision.repeat_of == ["INC-1"]
    assert decision.repeat_open_action_items == [
        EarlierOpenActionItem(incident_id="INC-1", item_id="AI-1", title="Pool alarm")
    ]
    # The first incident is not a repeat of the later one.
    assert find_repeat_of(RootCauseSighting.of(first), index) == ()


def test_a_late_root_cause_for_an_earlier_incident_turns_a_later_one_into_a_repeat() -> None:
    later = root_caused("INC-2", "2026-11-10T10:00:00Z")
    assert find_repeat_of(RootCauseSighting.of(later), sightings(later)) == ()
    earlier = root_caused("INC-1", "2026-11-01T10:00:00Z")
    assert incidents_to_reevaluate(None, RootCauseSighting.of(earlier), sightings(later, earlier)) == (
        "INC-2",
    )
    assert find_repeat_of(RootCauseSighting.of(later), sightings(later, earlier)) == ("INC-1",)
    assert later_repeats_of(RootCauseSighting.of(earlier), sightings(later, earlier)) == ("INC-2",)


def test_root_causes_identified_at_the_same_instant_repeat_neither() -> None:
    one = root_caused("INC-1", "2026-11-01T10:00:00Z")
    two = root_caused("INC-2", "2026-11-01T11:00:00+01:00")
    index = sightings(one, two)
    assert find_repeat_of(RootCauseSighting.of(one), index) == ()
    assert find_repeat_of(RootCauseSighting.of(two), index) == ()


def test_a_corrected_fingerprint_reevaluates_incidents_of_both_fingerprints() -> None:
    before = RootCauseSighting.of(root_caused("INC-1", "2026-11-01T10:00:00Z"))
    after = RootCauseSighting.of(root_caused("INC-1", "2026-11-01T10:00:00Z", fingerprint="dns-ttl"))
    others = sightings(
        root_caused("INC-2", "2026-11-05T10:00:00Z"),
        root_caused("INC-3", "2026-11-06T10:00:00Z", fingerprint="dns-ttl"),
        root_caused("INC-4", "2026-11-06T10:00:00Z", fingerprint="cert-expiry"),
    )
    assert incidents_to_reevaluate(before, after, others) == ("INC-2", "INC-3")
    assert incidents_to_reevaluate(before, before, others) == ()
    assert incidents_to_reevaluate(None, None, others) == ()


def test_items_of_incidents_not_repeated_are_left_out_and_the_incident_never_repeats_itself() -> None:
    facts = root_caused("INC-2", "2026-11-10T10:00:00Z")
    decision = derive_decision(
        facts,
        ["INC-2", "INC-1", "INC-1"],
        BusinessCalendar(),
        [EarlierOpenActionItem(incident_id="INC-9", item_id="AI-1", title="Other")],
    )
    assert decision.repeat_of == ["INC-1"]
    assert decision.repeat_open_action_items == []
