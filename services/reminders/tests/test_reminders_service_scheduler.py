"""The scheduler loop on the real SQLite store, with hand-written fakes for JetStream: it sleeps until
the next level (no polling), wakes at once when a message arrives, and never spins while it waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from majorops.reminders.adapters.sqlite import SqliteRemindersStore
from majorops.reminders.handlers import EscalationPolicy, record_decision, record_events
from majorops.reminders.plan import Notice
from majorops.reminders.ports import Clock, RemindersStore, utc_now
from majorops.reminders.scheduler import EscalationScheduler
from majorops.shared.testing import event_envelope, iso

INTERVAL = timedelta(seconds=0.5)


async def record_one(
    envelope: object,
    arrival: int,
    store: RemindersStore,
    extra_types: frozenset[str] = frozenset(),
    clock: Clock = utc_now,
) -> None:
    """The consumer's batch handler with a batch of one: its outcome raised, as the consumer settles it."""
    (outcome,) = await record_events([(envelope, arrival)], store, extra_types, clock)
    if outcome is not None:
        raise outcome


class Stream:
    """The publisher port: remembers when each notice was published."""

    def __init__(self) -> None:
        self.published: list[tuple[Notice, datetime]] = []

    async def publish(self, notices: Sequence[Notice]) -> None:
        now = datetime.now(UTC)
        self.published.extend((n, now) for n in notices)

    async def in_stream(self, notice: Notice) -> bool:
        return any(n.notice_id == notice.notice_id for n, _ in self.published)

    def ids(self) -> list[str]:
        return [n.notice_id for n, _ in self.published]


class Freshness:
    def __init__(self) -> None:
        self.complete_now = True
        self.asked = 0

    async def complete(self, incident_ids: Sequence[str]) -> set[str]:
        self.asked += 1
        return set(incident_ids) if self.complete_now else set()


class CountingStore(SqliteRemindersStore):
    """The real store, counting scheduler passes."""

    passes = 0

    async def incidents_due(self, now: datetime, limit: int) -> Any:
        self.passes += 1
        return await super().incidents_due(now, limit)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    opened = CountingStore(tmp_path / "reminders.sqlite3")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def decision(incident: str, schedule_by: datetime) -> dict[str, Any]:
    return {
        "incident_id": incident,
        "revision": 1,
        "requirement": "mandatory",
        "severity": "high",
        "closed_at": iso(schedule_by - timedelta(hours=24)),
        "deadlines": {"schedule_by": iso(schedule_by), "hold_by": iso(schedule_by + timedelta(days=30))},
    }


def scheduler(store: CountingStore, stream: Stream, freshness: Freshness) -> EscalationScheduler:
    return EscalationScheduler(
        store, stream, freshness, EscalationPolicy(interval=INTERVAL), replica="test", max_sleep_seconds=30.0
    )


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_it_sleeps_until_each_level_and_fires_it_on_time(store: CountingStore) -> None:
    stream, freshness = Stream(), Freshness()
    due = datetime.now(UTC) + timedelta(seconds=0.3)
    await record_decision(decision("INC-1", due), store)
    running = scheduler(store, stream, freshness)
    await running.start()
    try:
        await wait_for(lambda: len(stream.published) == 3)
        await asyncio.sleep(0.3)
    finally:
        await running.stop()
    assert stream.ids() == [f"INC-1:after_action_not_scheduled:{n}" for n in (1, 2, 3)]
    for level, (_, published_at) in enumerate(stream.published):
        late = published_at - (due + level * INTERVAL)
        assert timedelta(0) <= late < timedelta(seconds=0.2), late
    # A pass at start, one per level, and a few spare wake-ups: no polling in between.
    assert store.passes < 12, store.passes


async def test_a_message_wakes_it_at_once(store: CountingStore) -> None:
    stream, freshness = Stream(), Freshness()
    running = scheduler(store, stream, freshness)
    await running.start()
    try:
        await asyncio.sleep(0.2)  # asleep now, for up to 30 s
        arrived = datetime.now(UTC)
        await record_decision(decision("INC-1", arrived - timedelta(days=2)), store)
        running.rearm()
        await wait_for(lambda: len(stream.published) == 3)
    finally:
        await running.stop()
    assert max(at for _, at in stream.published) - arrived < timedelta(seconds=0.2)


async def test_while_the_record_is_incomplete_it_looks_again_a_few_times_a_second_not_in_a_loop(
    store: CountingStore,
) -> None:
    stream, freshness = Stream(), Freshness()
    freshness.complete_now = False
    await record_one(
        event_envelope("INC-1", "e-1", "incident.closed", datetime.now(UTC) - timedelta(days=2)),
        1,
        store,
    )
    await record_decision(decision("INC-1", datetime.now(UTC) - timedelta(days=1)), store)
    running = scheduler(store, stream, freshness)
    await running.start()
    try:
        await asyncio.sleep(1.0)
        assert stream.published == []
        assert 5 <= freshness.asked <= 15, freshness.asked  # every 0.1 s
        freshness.complete_now = True
        await wait_for(lambda: len(stream.published) == 3, timeout=1.0)
    finally:
        await running.stop()


async def test_stop_returns_promptly_from_a_long_sleep(store: CountingStore) -> None:
    running = scheduler(store, Stream(), Freshness())
    await running.start()
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await running.stop()
    assert loop.time() - began < 0.5
