"""Reminders' use cases with hand-written fakes of its ports (no broker, no database): recording
events and decisions, firing what is due exactly once, publishing again what a crash left pending."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from majorops.reminders.bootstrap import policy_from_settings
from majorops.reminders.config import RemindersSettings
from majorops.reminders.handlers import (
    EscalationPolicy,
    fire_due,
    publish_pending,
    record_decision,
    record_events,
)
from majorops.reminders.plan import Notice
from majorops.reminders.ports import Clock as ClockPort
from majorops.reminders.ports import DueIncident, RemindersStore, StoredPlan, utc_now
from majorops.shared.decisions import AfterActionDecision, Requirement
from majorops.shared.outcomes import PoisonMessage, UnacknowledgedPublish
from majorops.shared.testing import InMemoryEventLog, event_envelope


async def record_one(
    envelope: object,
    arrival: int,
    store: RemindersStore,
    extra_types: frozenset[str] = frozenset(),
    clock: ClockPort = utc_now,
) -> None:
    """The consumer's batch handler with a batch of one: its outcome raised, as the consumer settles it."""
    (outcome,) = await record_events([(envelope, arrival)], store, extra_types, clock)
    if outcome is not None:
        raise outcome


class InMemoryRemindersStore(InMemoryEventLog):
    """The :class:`~majorops.reminders.ports.RemindersStore` port in dicts, with the same rules as the
    adapters: events once by id, the highest decision revision, plans stored only at their version,
    notice ids claimed once."""

    def __init__(self) -> None:
        super().__init__()
        self.decisions: dict[str, AfterActionDecision] = {}
        self.versions: dict[str, int] = {}
        self.next_fire: dict[str, datetime | None] = {}
        self.plans: dict[str, StoredPlan] = {}
        self.outbox: dict[str, tuple[Notice, str]] = {}
        self.claimed_at: dict[str, datetime] = {}
        self.webhooks: dict[tuple[str, str], str] = {}
        self.webhook_levels: dict[tuple[str, str], int] = {}

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        stored = self.decisions.get(decision.incident_id)
        if stored is not None and stored.revision >= decision.revision:
            return False
        self.decisions[decision.incident_id] = decision
        return True

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        return self.decisions.get(incident_id)

    async def mark_changed(self, incident_id: str, at: datetime) -> None:
        self.versions[incident_id] = self.versions.get(incident_id, 0) + 1
        current = self.next_fire.get(incident_id)
        self.next_fire[incident_id] = at if current is None else min(current, at)

    async def mark_unplanned(self, settings_key: str, at: datetime) -> int:
        known = {e.incident_id for e in self.events.values()} | set(self.decisions)
        stale = [i for i in known if i not in self.plans or self.plans[i].settings_key != settings_key]
        for incident_id in stale:
            await self.mark_changed(incident_id, at)
        return len(stale)

    async def incidents_due(self, now: datetime, limit: int) -> list[DueIncident]:
        due = sorted((at, i) for i, at in self.next_fire.items() if at is not None and at <= now)
        return [DueIncident(i, self.versions[i]) for _, i in due[:limit]]

    async def save_plans(self, plans: Sequence[StoredPlan]) -> set[str]:
        saved = set()
        for plan in plans:
            if self.versions.get(plan.incident_id) == plan.version:
                self.plans[plan.incident_id] = plan
                self.next_fire[plan.incident_id] = plan.next_fire_at
                saved.add(plan.incident_id)
        return saved

    async def postpone(self, incident_id: str, version: int, until: datetime) -> None:
        if self.versions.get(incident_id) == version:
            self.next_fire[incident_id] = until

    async def earliest_fire_at(self) -> datetime | None:
        return min((at for at in self.next_fire.values() if at is not None), default=None)

    async def pending_obligations(self) -> int:
        return sum(p.pending for p in self.plans.values())

    async def claim_notices(
        self, notices: Sequence[Notice], claimed_at: datetime, claimed_by: str
    ) -> set[str]:
        won = set()
        for notice in notices:
            if notice.notice_id not in self.outbox:
                self.outbox[notice.notice_id] = (notice, "pending")
                self.claimed_at[notice.notice_id] = claimed_at
                won.add(notice.notice_id)
        return won

    async def mark_published(self, notice_ids: Sequence[str], at: datetime) -> None:
        for notice_id in notice_ids:
            self.outbox[notice_id] = (self.outbox[notice_id][0], "published")

    async def pending_notices(self, claimed_before: datetime, limit: int) -> list[Notice]:
        pending = [
            n
            for n, status in self.outbox.values()
            if status == "pending" and self.claimed_at[n.notice_id] < claimed_before
        ]
        return pending[:limit]

    async def sent_notice_ids(self, incident_id: str) -> set[str]:
        return {i for i, (n, _) in self.outbox.items() if n.incident_id == incident_id}

    async def webhook_outcome(self, escalation_id: str, target_key: str) -> str | None:
        return self.webhooks.get((escalation_id, target_key))

    async def save_webhook_outcome(
        self, escalation_id: str, target_key: str, outcome: str, at: datetime
    ) -> None:
        self.webhooks.setdefault((escalation_id, target_key), outcome)

    async def claim_webhook_level(
        self, obligation_key: str, target_key: str, level: int, at: datetime
    ) -> bool:
        if self.webhook_levels.get((obligation_key, target_key), 0) > level:
            return False
        self.webhook_levels[(obligation_key, target_key)] = level
        return True

    async def webhook_level(self, obligation_key: str, target_key: str) -> int | None:
        return self.webhook_levels.get((obligation_key, target_key))


def decision(incident: str, revision: int, requirement: str = "mandatory") -> dict[str, Any]:
    return {
        "incident_id": incident,
        "revision": revision,
        "requirement": requirement,
        "reasons": [{"rule": "critical_any_duration", "text": "Critical (P1) incident"}],
        "severity": "critical",
        "closed_at": "2026-11-20T12:00:00Z",
        "deadlines": {"schedule_by": "2026-11-21T12:00:00Z", "hold_by": "2026-11-27T12:00:00Z"},
    }


async def test_event_is_stored_once() -> None:
    store = InMemoryRemindersStore()
    await record_one(event_envelope("INC-1", "e-1", "incident.closed", "2026-11-20T12:00:00Z"), 3, store)
    await record_one(event_envelope("INC-1", "e-1", "incident.closed", "2026-11-20T12:00:00Z"), 4, store)
    assert [(e.event_id, e.arrival) for e in await store.events_for("INC-1")] == [("e-1", 3)]


async def test_invalid_envelope_is_poison_naming_the_field() -> None:
    store = InMemoryRemindersStore()
    with pytest.raises(PoisonMessage, match=r"subject: "):
        await record_one(event_envelope("INC 1", "e-1", "incident.closed", "2026-11-20T12:00:00Z"), 1, store)
    assert store.events == {}


async def test_the_highest_revision_wins_whatever_the_arrival_order() -> None:
    store = InMemoryRemindersStore()
    assert await record_decision(decision("INC-1", 2, "recommended"), store) == "INC-1"
    await record_decision(decision("INC-1", 3), store)
    await record_decision(decision("INC-1", 1, "not_required"), store)
    await record_decision(decision("INC-1", 3), store)
    latest = await store.latest_decision("INC-1")
    assert latest is not None
    assert (latest.revision, latest.requirement) == (3, Requirement.MANDATORY)
    assert latest.deadlines.schedule_by is not None
    assert latest.deadlines.schedule_by.isoformat() == "2026-11-21T12:00:00+00:00"


async def test_invalid_decision_is_poison_naming_every_field_on_one_line() -> None:
    store = InMemoryRemindersStore()
    broken = decision("INC-1", 0, "maybe")
    with pytest.raises(PoisonMessage) as caught:
        await record_decision(broken, store)
    message = str(caught.value)
    assert message.startswith("invalid decision: ")
    assert "revision: " in message and "requirement: " in message
    assert "\n" not in message
    with pytest.raises(PoisonMessage, match="invalid decision"):
        await record_decision(["not", "a", "decision"], store)
    assert store.decisions == {}


# --- firing what is due -------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # four days after schedule_by of decision(): all levels past
POLICY = EscalationPolicy(interval=timedelta(hours=24))
ALL_LEVELS = [f"INC-1:after_action_not_scheduled:{n}" for n in (1, 2, 3)]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class StreamPublisher:
    """The :class:`~majorops.reminders.ports.NoticePublisher` port: a list standing for the stream."""

    def __init__(self) -> None:
        self.stream: list[Notice] = []
        self.unreachable = False

    async def publish(self, notices: Sequence[Notice]) -> None:
        if self.unreachable:
            raise UnacknowledgedPublish("no responders")
        self.stream.extend(notices)

    async def in_stream(self, notice: Notice) -> bool:
        return any(n.notice_id == notice.notice_id for n in self.stream)

    def ids(self) -> list[str]:
        return [n.notice_id for n in self.stream]


class Freshness:
    """The :class:`~majorops.reminders.ports.RecordFreshness` port: which records are complete."""

    def __init__(self, incomplete: set[str] | None = None) -> None:
        self.incomplete = incomplete or set()

    async def complete(self, incident_ids: Sequence[str]) -> set[str]:
        return set(incident_ids) - self.incomplete


async def closed_incident(store: InMemoryRemindersStore, clock: Clock) -> None:
    """INC-1: mandatory, closed 2026-11-20 12:00, After Action due to be scheduled by the 21st."""
    await record_one(
        event_envelope("INC-1", "e-close", "incident.closed", "2026-11-20T12:00:00Z"), 1, store, clock=clock
    )
    await record_one(
        event_envelope(
            "INC-1",
            "e-mim",
            "majorops.role.assigned",
            "2026-11-20T09:00:00Z",
            {"role": "mim", "person": "Dana Reyes"},
        ),
        2,
        store,
        clock=clock,
    )
    await record_decision(decision("INC-1", 1), store, clock=clock)


async def test_every_message_makes_its_incident_due_now_even_a_redelivered_one() -> None:
    store, clock = InMemoryRemindersStore(), Clock(NOW)
    await record_one(
        event_envelope("INC-1", "e-1", "incident.closed", "2026-11-20T12:00:00Z"), 1, store, clock=clock
    )
    assert await store.incidents_due(NOW, 10) == [DueIncident("INC-1", 1)]
    await store.save_plans([StoredPlan("INC-1", 1, None, "[]", 0, POLICY.settings_key, NOW)])
    assert await store.incidents_due(NOW, 10) == []
    # A crash may have lost the mark after the event was stored: the redelivery marks again.
    await record_one(
        event_envelope("INC-1", "e-1", "incident.closed", "2026-11-20T12:00:00Z"), 1, store, clock=clock
    )
    await record_decision(decision("INC-1", 1), store, clock=clock)
    await record_decision(decision("INC-1", 1), store, clock=clock)
    assert await store.incidents_due(NOW, 10) == [DueIncident("INC-1", 4)]


async def test_levels_past_due_are_claimed_published_once_and_the_plan_stored() -> None:
    store, clock, stream = InMemoryRemindersStore(), Clock(NOW), StreamPublisher()
    await closed_incident(store, clock)
    outcome = await fire_due(store, stream, Freshness(), POLICY, clock=clock)
    assert stream.ids() == ALL_LEVELS
    assert (outcome.incidents, outcome.published, outcome.waiting) == (1, 3, [])
    assert {status for _, status in store.outbox.values()} == {"published"}
    plan = store.plans["INC-1"]
    # The heads-up of hold_by (2026-11-27 12:00) is next: a day before.
    assert plan.next_fire_at == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert await store.incidents_due(NOW, 10) == []

    clock.now = NOW + timedelta(days=1, hours=4)
    await fire_due(store, stream, Freshness(), POLICY, clock=clock)
    assert stream.ids() == [*ALL_LEVELS, "INC-1:hold_by:heads_up"]
    await record_one(
        event_envelope(
            "INC-1", "e-other", "majorops.timeline.logged", "2026-11-20T12:00:00Z", {"text": "note"}
        ),
        3,
        store,
        clock=clock,
    )
    await fire_due(store, stream, Freshness(), POLICY, clock=clock)
    assert stream.ids() == [*ALL_LEVELS, "INC-1:hold_by:heads_up"]


async def test_two_replicas_racing_on_one_store_publish_each_id_once() -> None:
    store, clock = InMemoryRemindersStore(), Clock(NOW)
    a, b = StreamPublisher(), StreamPublisher()
    await closed_incident(store, clock)
    await asyncio.gather(
        fire_due(store, a, Freshness(), POLICY, clock=clock, replica="a"),
        fire_due(store, b, Freshness(), POLICY, clock=clock, replica="b"),
    )
    assert sorted(a.ids() + b.ids()) == ALL_LEVELS


async def test_nothing_is_claimed_while_the_record_may_miss_a_meeting_event() -> None:
    """The decision was stored, the afteraction.scheduled event is still on its way."""
    store, clock, stream = InMemoryRemindersStore(), Clock(NOW), StreamPublisher()
    await closed_incident(store, clock)
    freshness = Freshness(incomplete={"INC-1"})
    outcome = await fire_due(store, stream, freshness, POLICY, clock=clock)
    assert (stream.ids(), outcome.waiting) == ([], ["INC-1"])
    assert await store.incidents_due(NOW, 10) != []  # still due: looked at again on the next pass

    scheduled_30h_after_close = event_envelope(
        "INC-1",
        "e-sched",
        "majorops.afteraction.scheduled",
        "2026-11-21T18:00:00Z",
        {"meeting_at": "2026-11-24T10:00:00Z"},
    )
    await record_one(scheduled_30h_after_close, 4, store, clock=clock)
    freshness.incomplete.clear()
    await fire_due(store, stream, freshness, POLICY, clock=clock)
    assert stream.ids() == ["INC-1:after_action_not_scheduled:1"]


async def test_an_unacknowledged_publish_stays_pending_and_is_published_later_once() -> None:
    store, clock, stream = InMemoryRemindersStore(), Clock(NOW), StreamPublisher()
    await closed_incident(store, clock)
    stream.unreachable = True
    outcome = await fire_due(store, stream, Freshness(), POLICY, clock=clock)
    assert outcome.publish_failed and stream.ids() == []
    assert [n.notice_id for n in await store.pending_notices(NOW + timedelta(seconds=1), 10)] == ALL_LEVELS
    # The claim is permanent: a later pass does not claim (nor build) them again.
    await record_one(
        event_envelope("INC-1", "e-x", "majorops.timeline.logged", "2026-11-20T12:00:00Z", {"text": "x"}),
        5,
        store,
        clock=clock,
    )
    stream.unreachable = False
    await fire_due(store, stream, Freshness(), POLICY, clock=clock)
    assert stream.ids() == []

    # The replica that claimed them gets a few seconds to publish them itself; then any replica does.
    clock.now = NOW + timedelta(seconds=1)
    assert await publish_pending(store, stream, clock=clock, older_than=timedelta(seconds=5)) == 0
    clock.now = NOW + timedelta(seconds=6)
    assert await publish_pending(store, stream, clock=clock, older_than=timedelta(seconds=5)) == 3
    assert stream.ids() == ALL_LEVELS
    assert await store.pending_notices(clock.now, 10) == []
    assert await publish_pending(store, stream, clock=clock, older_than=timedelta(0)) == 0


async def test_a_pending_notice_already_in_the_stream_is_only_marked() -> None:
    """Published, then the process died before marking it: older than the duplicate window, a second
    publish would not be dropped by JetStream, so the stream is searched first."""
    store, clock, stream = InMemoryRemindersStore(), Clock(NOW), StreamPublisher()
    await closed_incident(store, clock)
    stream.unreachable = True
    await fire_due(store, stream, Freshness(), POLICY, clock=clock)
    stream.unreachable = False
    clock.now = NOW + timedelta(seconds=1)
    pending = await store.pending_notices(clock.now, 10)
    stream.stream.append(pending[0])  # made it to JetStream before the crash
    assert await publish_pending(store, stream, clock=clock, older_than=timedelta(0)) == 3
    assert sorted(stream.ids()) == ALL_LEVELS


async def test_a_plan_made_while_a_new_message_arrived_is_not_stored_and_the_incident_stays_due() -> None:
    class MarkedMeanwhile(InMemoryRemindersStore):
        async def sent_notice_ids(self, incident_id: str) -> set[str]:
            await self.mark_changed(incident_id, NOW)  # another replica stored an event just now
            return await super().sent_notice_ids(incident_id)

    store, clock, stream = MarkedMeanwhile(), Clock(NOW), StreamPublisher()
    await record_one(
        event_envelope("INC-1", "e-1", "majorops.timeline.logged", "2026-11-20T12:00:00Z", {"text": "x"}),
        1,
        store,
        clock=clock,
    )
    await fire_due(store, stream, Freshness(), POLICY, clock=clock)
    assert "INC-1" not in store.plans
    assert [d.incident_id for d in await store.incidents_due(NOW, 10)] == ["INC-1"]


async def test_an_incident_that_cannot_be_planned_is_postponed_without_holding_up_others() -> None:
    class OneBroken(InMemoryRemindersStore):
        async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
            if incident_id == "INC-2":
                raise ValueError("corrupt decision document")
            return await super().latest_decision(incident_id)

    store, clock, stream = OneBroken(), Clock(NOW), StreamPublisher()
    await record_one(
        event_envelope("INC-2", "e-2", "incident.closed", "2026-11-20T12:00:00Z"), 1, store, clock=clock
    )
    await closed_incident(store, clock)
    outcome = await fire_due(store, stream, Freshness(), POLICY, clock=clock)
    assert outcome.failed == ["INC-2"]
    assert stream.ids() == ALL_LEVELS
    assert store.next_fire["INC-2"] == NOW + timedelta(seconds=30)


async def test_a_long_outage_leaves_many_pending_and_all_are_published_in_one_round() -> None:
    store, clock, stream = InMemoryRemindersStore(), Clock(NOW), StreamPublisher()
    stream.unreachable = True
    for n in range(25):
        await record_decision(decision(f"INC-{n}", 1), store, clock=clock)
    await fire_due(store, stream, Freshness(), POLICY, clock=clock)
    clock.now = NOW + timedelta(seconds=1)
    assert len(await store.pending_notices(clock.now, 1000)) == 75
    stream.unreachable = False
    assert await publish_pending(store, stream, clock=clock, older_than=timedelta(0), limit=10) == 75
    assert len(set(stream.ids())) == len(stream.ids()) == 75


async def test_an_action_item_due_on_a_plain_date_falls_due_at_midnight_in_the_organisations_zone() -> None:
    settings = RemindersSettings(timezone="America/New_York", escalation_interval="PT24H")
    policy = policy_from_settings(settings)
    store, stream = InMemoryRemindersStore(), StreamPublisher()
    clock = Clock(datetime(2026, 11, 25, 4, 59, tzinfo=UTC))  # 23:59 on the 24th in New York
    created = event_envelope(
        "INC-1",
        "e-ai",
        "majorops.actionitem.created",
        "2026-11-20T12:00:00Z",
        {"item_id": "AI-7", "title": "Alarm", "owner": "Ravi", "due": "2026-11-24"},
    )
    await record_one(created, 1, store, clock=clock)
    await fire_due(store, stream, Freshness(), policy, clock=clock)
    assert [n.notice_id for n in stream.stream if n.category.value == "escalation"] == []
    clock.now = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
    await fire_due(store, stream, Freshness(), policy, clock=clock)
    assert stream.ids()[-1] == "INC-1:action_item_overdue:AI-7:1"
    assert "2026-11-24, end of day" in json.loads(stream.stream[-1].payload)["message"]
