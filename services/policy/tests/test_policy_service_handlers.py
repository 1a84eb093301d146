"""Policy's handlers with hand-written in-memory fakes of the store and the publisher (no broker).

The fake publisher keeps every message it was asked to publish — it has no duplicate window — so
a revision sent twice shows up twice here, stricter than JetStream would be.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import pytest

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.repeats import RootCauseSighting
from majorops.policy.facts_cache import IncidentFactsCache
from majorops.policy.handlers import PolicyPorts, handle_events, publish_pending_decisions
from majorops.policy.ports import IncidentState, IndexedRootCause, StoredDecision
from majorops.shared import testing
from majorops.shared.decisions import AfterActionDecision, DecisionContent
from majorops.shared.events import validate_event
from majorops.shared.outcomes import PoisonMessage, UnacknowledgedPublish
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.testing import InMemoryEventLog, event_envelope


class InMemoryPolicyStore(InMemoryEventLog):
    """The :class:`~majorops.policy.ports.PolicyStore` port in dicts, with the SQLite adapter's checks."""

    def __init__(self) -> None:
        super().__init__()
        self.stored_order: dict[str, list[str]] = {}
        self.decisions: dict[str, StoredDecision] = {}
        self.index: dict[str, tuple[RootCauseSighting, str | None, int]] = {}
        self.history_reads = 0

    async def append_event(self, event: StoredEvent) -> bool:
        new = await super().append_event(event)
        if new:
            self.stored_order.setdefault(event.incident_id, []).append(event.event_id)
        return new

    async def events_stored_after(self, incident_id: str, position: int) -> tuple[list[StoredEvent], int]:
        order = self.stored_order.get(incident_id, [])
        self.history_reads += len(order) - position
        return [self.events[event_id] for event_id in order[position:]], len(order)

    async def incident_state(self, incident_id: str) -> IncidentState:
        count = len(self.stored_order.get(incident_id, []))
        entry = self.index.get(incident_id)
        root_cause = None if entry is None else IndexedRootCause(entry[0], entry[1])
        return IncidentState(incident_id, count, self.decisions.get(incident_id), root_cause)

    async def save_decision(
        self, incident_id: str, content: DecisionContent, expected_revision: int, event_count: int
    ) -> bool:
        state = await self.incident_state(incident_id)
        if state.revision != expected_revision or state.event_count != event_count:
            return False
        self.decisions[incident_id] = StoredDecision(incident_id, expected_revision + 1, content, False)
        return True

    async def mark_published(self, incident_id: str, revision: int) -> None:
        current = self.decisions.get(incident_id)
        if current is not None and current.revision == revision:
            self.decisions[incident_id] = dataclasses.replace(current, published=True)

    async def unpublished_decisions(self) -> list[StoredDecision]:
        return [d for _, d in sorted(self.decisions.items()) if not d.published]

    async def index_root_cause(self, sighting: RootCauseSighting, event_count: int) -> bool:
        current = self.index.get(sighting.incident_id)
        previous = None
        if current is not None:
            if current[2] > event_count:
                return False
            previous = (
                current[1] if current[0].fingerprint == sighting.fingerprint else current[0].fingerprint
            )
        self.index[sighting.incident_id] = (sighting, previous, event_count)
        return True

    async def root_causes_with(self, fingerprints: Collection[str]) -> list[RootCauseSighting]:
        return [entry[0] for entry in self.index.values() if entry[0].fingerprint in fingerprints]


class RecordingPublisher:
    """A subject per incident that appends a revision it does not hold yet, as the JetStream adapter.

    Can fail before appending, or lose the acknowledgement after; counts every call, so a test
    sees when the handlers publish more often than needed.
    """

    def __init__(self) -> None:
        self.stream: list[AfterActionDecision] = []
        self.calls = 0
        self.fail_before = 0
        self.lose_ack_after = 0

    async def publish(self, decision: AfterActionDecision) -> bool:
        self.calls += 1
        if self.fail_before:
            self.fail_before -= 1
            raise UnacknowledgedPublish("nats: timeout")
        last = max((d.revision for d in self.of(decision.incident_id)), default=0)
        if last >= decision.revision:
            return False
        self.stream.append(decision)
        if self.lose_ack_after:
            self.lose_ack_after -= 1
            raise UnacknowledgedPublish("nats: connection closed before the PubAck")
        return True

    def of(self, incident_id: str) -> list[AfterActionDecision]:
        return [d for d in self.stream if d.incident_id == incident_id]

    def latest(self, incident_id: str) -> AfterActionDecision:
        return self.of(incident_id)[-1]


_arrivals = itertools.count(1)


DECLARED_AT = "2026-11-20T09:14:00+01:00"
DECLARED = {"title": "Checkout latency", "severity": "P1"}


def new_ports(
    store: InMemoryPolicyStore | None = None, publisher: RecordingPublisher | None = None, cache: int = 1024
) -> PolicyPorts:
    return PolicyPorts.of(
        store or InMemoryPolicyStore(), publisher or RecordingPublisher(), BusinessCalendar(), cache
    )


def publisher_of(ports: PolicyPorts) -> RecordingPublisher:
    assert isinstance(ports.publisher, RecordingPublisher)
    return ports.publisher


async def handle_one(
    envelope: object, arrival: int, ports: PolicyPorts, extra_types: frozenset[str] = frozenset()
) -> None:
    """The consumer's batch handler with a batch of one: its outcome raised, as the consumer settles it."""
    (outcome,) = await handle_events([(envelope, arrival)], ports, extra_types)
    if outcome is not None:
        raise outcome


async def feed(ports: PolicyPorts, events: list[dict[str, Any]]) -> None:
    for event in events:
        await handle_one(event, next(_arrivals), ports)


def revisions(decisions: list[AfterActionDecision]) -> list[int]:
    return [d.revision for d in decisions]


def content(decision: AfterActionDecision) -> dict[str, Any]:
    return decision.model_dump(mode="json", exclude={"revision"})


# --- recording (unchanged behaviour) -------------------------------------------------------------


async def test_event_is_stored_normalised() -> None:
    store = InMemoryPolicyStore()
    await handle_one(
        event_envelope("INC-1", "e-1", "incident.declared", DECLARED_AT, DECLARED), 7, new_ports(store)
    )
    [stored] = await store.events_for("INC-1")
    assert stored.event_id == "e-1"
    assert stored.arrival == 7
    assert stored.time_utc == "2026-11-20T08:14:00.000000Z"
    assert stored.envelope["data"]["severity"] == "critical"


async def test_same_event_twice_is_stored_once_keeping_its_first_arrival() -> None:
    store = InMemoryPolicyStore()
    ports = new_ports(store)
    await handle_one(event_envelope("INC-1", "e-1", "incident.declared", DECLARED_AT, DECLARED), 7, ports)
    await handle_one(event_envelope("INC-1", "e-1", "incident.declared", DECLARED_AT, DECLARED), 9, ports)
    assert [(e.event_id, e.arrival) for e in await store.events_for("INC-1")] == [("e-1", 7)]


async def test_invalid_envelope_is_poison_naming_the_field_and_stores_nothing() -> None:
    store = InMemoryPolicyStore()
    ports = new_ports(store)
    broken = event_envelope("INC-1", "e-1", "incident.declared", DECLARED_AT, DECLARED)
    del broken["time"]
    with pytest.raises(PoisonMessage, match="time: is required"):
        await handle_one(broken, 1, ports)
    with pytest.raises(PoisonMessage, match="unknown event type"):
        await handle_one(
            event_envelope("INC-1", "e-2", "majorops.incident.declard", DECLARED_AT, DECLARED), 2, ports
        )
    with pytest.raises(PoisonMessage, match="must be a JSON object"):
        await handle_one(["not", "an", "envelope"], 3, ports)
    assert store.events == {}
    assert publisher_of(ports).stream == []


async def test_event_type_added_by_the_deployment_is_recorded() -> None:
    store = InMemoryPolicyStore()
    ports = new_ports(store)
    custom = event_envelope("INC-1", "e-1", "majorops.pager.acknowledged", DECLARED_AT, {"by": "@dreyes"})
    with pytest.raises(PoisonMessage):
        await handle_one(custom, 1, ports)
    await handle_one(custom, 1, ports, frozenset({"majorops.pager.acknowledged"}))
    assert [e.type for e in await store.events_for("INC-1")] == ["majorops.pager.acknowledged"]


# --- deciding ------------------------------------------------------------------------------------


async def test_the_contract_example_ends_at_revision_4_with_the_contract_values() -> None:
    ports = new_ports()
    await feed(ports, testing.contract_example_events("INC-1042"))
    decisions = publisher_of(ports).of("INC-1042")
    assert revisions(decisions) == [1, 2, 3, 4]
    assert decisions[-1].model_dump(mode="json") == testing.contract_example_published("INC-1042")
    assert (await ports.store.incident_state("INC-1042")).decision == StoredDecision(
        "INC-1042", 4, DecisionContent.of_decision(decisions[-1]), published=True
    )


async def test_the_first_event_publishes_revision_1_even_when_nothing_is_required_yet() -> None:
    ports = new_ports()
    await feed(
        ports, [event_envelope("INC-1", "n-1", "timeline.logged", "2026-11-20T09:00:00Z", {"text": "paged"})]
    )
    [first] = publisher_of(ports).of("INC-1")
    assert (first.revision, first.requirement, first.severity, first.reasons) == (1, "not_required", None, [])


async def test_an_event_that_changes_nothing_publishes_nothing() -> None:
    ports = new_ports()
    events = testing.contract_example_events("INC-1")
    await feed(ports, events)
    await feed(
        ports,
        [event_envelope("INC-1", "note", "timeline.logged", "2026-11-20T10:00:00Z", {"text": "db failover"})],
    )
    await feed(ports, [events[1], events[3]])  # redeliveries
    assert revisions(publisher_of(ports).of("INC-1")) == [1, 2, 3, 4]


async def test_out_of_order_and_duplicated_events_reach_the_same_decision_gap_free() -> None:
    in_order = new_ports()
    await feed(in_order, testing.contract_example_events("INC-1"))
    expected = content(publisher_of(in_order).latest("INC-1"))
    for seed in range(5):
        shuffled = testing.contract_example_events("INC-1") * 2
        random.Random(seed).shuffle(shuffled)
        ports = new_ports()
        await feed(ports, shuffled)
        decisions = publisher_of(ports).of("INC-1")
        assert content(decisions[-1]) == expected, seed
        assert revisions(decisions) == list(range(1, len(decisions) + 1))


async def test_a_second_replica_with_its_own_cache_never_regresses_the_decision() -> None:
    store, publisher = InMemoryPolicyStore(), RecordingPublisher()
    a, b = new_ports(store, publisher), new_ports(store, publisher)
    events = testing.contract_example_events("INC-1")
    await feed(a, events[:2])  # a caches the incident's facts
    await feed(b, events[2:])  # b resolves and closes it
    await feed(
        a, [event_envelope("INC-1", "note", "timeline.logged", "2026-11-20T13:00:00Z", {"text": "done"})]
    )
    decisions = publisher.of("INC-1")
    assert revisions(decisions) == [1, 2, 3, 4]
    assert decisions[-1].closed_at is not None
    assert decisions[-1].deadlines.hold_by is not None


async def test_cached_facts_fold_each_event_once_and_a_miss_reads_the_history_once() -> None:
    store = InMemoryPolicyStore()
    ports = new_ports(store)
    notes = [
        event_envelope(
            "INC-1", f"n-{n}", "timeline.logged", f"2026-11-20T09:{n:02d}:00Z", {"text": f"step {n}"}
        )
        for n in range(50)
    ]
    await feed(ports, notes)
    assert store.history_reads == 1  # the first event: a miss on an incident of one event
    fresh = new_ports(store)  # a restarted replica: empty cache
    await feed(
        fresh, [event_envelope("INC-1", "n-50", "timeline.logged", "2026-11-20T10:00:00Z", {"text": "x"})]
    )
    assert store.history_reads == 1 + 51


async def test_a_cache_too_small_for_the_incidents_still_decides_correctly() -> None:
    ports = new_ports(cache=1)
    for incident in ("INC-A", "INC-B"):
        await feed(ports, testing.contract_example_events(incident)[:2])
    for incident in ("INC-A", "INC-B"):
        await feed(ports, testing.contract_example_events(incident)[2:])
    assert isinstance(ports.facts, IncidentFactsCache)
    assert len(ports.facts) == 1
    for incident in ("INC-A", "INC-B"):
        decisions = publisher_of(ports).of(incident)
        assert revisions(decisions) == [1, 2, 3, 4]
        assert decisions[-1].duration_seconds == 8100


# --- crashes -------------------------------------------------------------------------------------


async def second_event_unacknowledged(**failure: int) -> tuple[PolicyPorts, list[dict[str, Any]]]:
    """INC-1's contract example: the first event fed, then the second with the publisher failing as
    ``failure`` sets it (``fail_before``, ``lose_ack_after``), so that event is not acknowledged."""
    ports = new_ports()
    events = testing.contract_example_events("INC-1")
    await feed(ports, events[:1])
    for name, value in failure.items():
        setattr(publisher_of(ports), name, value)
    with pytest.raises(UnacknowledgedPublish):
        await feed(ports, events[1:2])
    return ports, events


async def test_a_publish_that_fails_once_is_published_by_the_redelivery_exactly_once() -> None:
    ports, events = await second_event_unacknowledged(fail_before=1)
    # Stored, not published: the event is not acknowledged, so JetStream delivers it again.
    stored = (await ports.store.incident_state("INC-1")).decision
    assert stored is not None
    assert (stored.revision, stored.published) == (2, False)
    assert revisions(publisher_of(ports).of("INC-1")) == [1]
    await feed(ports, events[1:])
    decisions = publisher_of(ports).of("INC-1")
    assert revisions(decisions) == [1, 2, 3, 4]
    assert decisions[1].severity == "critical"


async def test_a_lost_acknowledgement_never_publishes_the_revision_twice() -> None:
    ports, events = await second_event_unacknowledged(lose_ack_after=1)
    # Redelivered long after JetStream's duplicate window: the subject's last message is checked.
    await feed(ports, events[1:])
    assert revisions(publisher_of(ports).of("INC-1")) == [1, 2, 3, 4]


async def test_the_sweep_publishes_what_a_crash_left_unpublished_once() -> None:
    store = InMemoryPolicyStore()
    crashed = new_ports(store)
    publisher_of(crashed).fail_before = 1
    with pytest.raises(UnacknowledgedPublish):
        await feed(crashed, testing.contract_example_events("INC-1")[:1])
    restarted = new_ports(store, publisher_of(crashed))
    assert await publish_pending_decisions(restarted) == 1
    assert await publish_pending_decisions(restarted) == 0
    assert revisions(publisher_of(restarted).of("INC-1")) == [1]
    assert await store.unpublished_decisions() == []


# --- repeat incidents ----------------------------------------------------------------------------


def root_cause(
    incident: str, event_id: str, at: str, fingerprint: str = "db-pool-exhaustion"
) -> dict[str, Any]:
    return event_envelope(incident, event_id, "rootcause.identified", at, {"fingerprint": fingerprint})


def low_incident(incident: str, at: str) -> dict[str, Any]:
    return event_envelope(
        incident, f"{incident}-declared", "incident.declared", at, {"title": "Slow", "severity": "low"}
    )


def root_caused(incident: str, day: str) -> list[dict[str, Any]]:
    """A low incident declared at 09:00 that day, its root cause (``db-pool-exhaustion``) found at 10:00."""
    number = incident.removeprefix("INC-")
    return [
        low_incident(incident, f"{day}T09:00:00Z"),
        root_cause(incident, f"rc-{number}", f"{day}T10:00:00Z"),
    ]


async def test_a_later_incident_with_an_earlier_root_cause_is_a_repeat() -> None:
    ports = new_ports()
    await feed(ports, root_caused("INC-1", "2026-11-01"))
    await feed(ports, root_caused("INC-2", "2026-11-20"))
    later = publisher_of(ports).latest("INC-2")
    assert (later.requirement, later.repeat_of, [r.rule for r in later.reasons]) == (
        "mandatory",
        ["INC-1"],
        ["repeat_incident"],
    )
    assert publisher_of(ports).latest("INC-1").repeat_of == []


async def test_a_late_root_cause_of_the_earlier_incident_republishes_the_later_one() -> None:
    ports = new_ports()
    await feed(ports, root_caused("INC-2", "2026-11-20"))
    assert publisher_of(ports).latest("INC-2").repeat_of == []
    before = len(publisher_of(ports).of("INC-2"))
    # The earlier incident's root cause is only written up now, but was identified earlier.
    await feed(ports, root_caused("INC-1", "2026-11-01"))
    later = publisher_of(ports).of("INC-2")
    assert revisions(later) == list(range(1, before + 2))
    assert (later[-1].repeat_of, later[-1].requirement) == (["INC-1"], "mandatory")
    assert publisher_of(ports).latest("INC-1").repeat_of == []


async def test_a_repeat_names_the_earlier_open_action_items_until_they_are_completed() -> None:
    ports = new_ports()
    await feed(
        ports,
        [
            *root_caused("INC-1", "2026-11-01"),
            event_envelope(
                "INC-1",
                "ai-7",
                "actionitem.created",
                "2026-11-02T09:00:00Z",
                {"item_id": "AI-7", "title": "Cap the pool", "owner": "@dreyes"},
            ),
            event_envelope(
                "INC-1",
                "ai-8",
                "actionitem.created",
                "2026-11-02T09:01:00Z",
                {"item_id": "AI-8", "title": "Alert on waits"},
            ),
        ],
    )
    await feed(ports, root_caused("INC-2", "2026-11-20"))
    open_items = publisher_of(ports).latest("INC-2").model_dump(mode="json")["repeat_open_action_items"]
    assert [(i["incident_id"], i["item_id"], i["title"], i["owner"]) for i in open_items] == [
        ("INC-1", "AI-7", "Cap the pool", "@dreyes"),
        ("INC-1", "AI-8", "Alert on waits", None),
    ]
    # Completing an item on the earlier incident re-derives its later repeat.
    await feed(
        ports,
        [
            event_envelope(
                "INC-1", "ai-7-done", "actionitem.completed", "2026-11-21T09:00:00Z", {"item_id": "AI-7"}
            )
        ],
    )
    open_items = publisher_of(ports).latest("INC-2").model_dump(mode="json")["repeat_open_action_items"]
    assert [i["item_id"] for i in open_items] == ["AI-8"]
    later = publisher_of(ports).of("INC-2")
    assert revisions(later) == list(range(1, len(later) + 1))


async def test_a_corrected_root_cause_stops_the_later_incident_being_a_repeat() -> None:
    ports = new_ports()
    await feed(ports, root_caused("INC-1", "2026-11-01"))
    await feed(ports, root_caused("INC-2", "2026-11-20"))
    assert publisher_of(ports).latest("INC-2").repeat_of == ["INC-1"]
    await feed(ports, [root_cause("INC-1", "rc-1b", "2026-11-03T10:00:00Z", fingerprint="dns-misconfig")])
    later = publisher_of(ports).latest("INC-2")
    assert (later.repeat_of, later.requirement) == ([], "not_required")


async def test_a_redelivered_root_cause_re_evaluates_the_repeats_a_crash_left_behind() -> None:
    store, publisher = InMemoryPolicyStore(), RecordingPublisher()
    ports = new_ports(store, publisher)
    await feed(ports, root_caused("INC-2", "2026-11-20"))
    earlier = root_caused("INC-1", "2026-11-01")
    await feed(ports, earlier[:1])
    # The root cause's handling dies right after indexing INC-1, before INC-2 was re-derived.
    await store.append_event(StoredEvent.from_event(validate_event(earlier[1]), next(_arrivals)))
    identified = datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert await store.index_root_cause(RootCauseSighting("INC-1", "db-pool-exhaustion", identified), 2)
    assert publisher.latest("INC-2").repeat_of == []
    await feed(new_ports(store, publisher), earlier[1:])
    assert publisher.latest("INC-2").repeat_of == ["INC-1"]
