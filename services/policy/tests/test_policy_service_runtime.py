"""Policy against a real nats-server: every event of JetStream lands in its store exactly once.

All tests of the session share one nats-server and so one ``policy-events`` durable consumer:
each test stops its runtimes before it ends, or another test's runtime would consume its events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from majorops.policy.adapters.sqlite import SqlitePolicyStore
from majorops.policy.bootstrap import PolicyRuntime
from majorops.policy.config import PolicySettings
from majorops.shared import subjects, testing
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.testing import (
    consumers_settled,
    dead_letters,
    eventually,
    running,
    stored_event_ids,
)
from majorops.shared.testing import publish_event as publish

DURABLES = testing.service_durables("policy", subjects.EVENTS_STREAM)


def settings_for(nats_url: str, data_dir: Path) -> PolicySettings:
    # The first runtime of the session creates the durable consumer with the same values in every test.
    return testing.settings_for(PolicySettings, nats_url, data_dir)


async def consumer_settled(js: JetStreamContext) -> None:
    """Wait until the durable has nothing left to deliver and nothing unacknowledged (all handled)."""
    await consumers_settled(js, DURABLES, "policy consumer settled")


async def dead_letters_about(js: JetStreamContext, incident: str) -> list[dict[str, Any]]:
    """Policy's dead letters for messages published under this incident's subjects."""
    mine = f"{subjects.EVENTS_ROOT}.{incident}."
    return [letter for letter in await dead_letters(js, "policy") if letter["subject"].startswith(mine)]


async def test_every_event_is_stored_once_even_when_republished_under_another_msg_id(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    runtime = PolicyRuntime(settings_for(nats_url, data_dir))
    events = [testing.step_envelope(unique_id, n) for n in range(1, 6)]
    async with running(runtime):
        for event in events:
            await publish(js, event)
        # A producer retrying after the duplicate window: JetStream keeps both copies.
        await publish(js, events[0], msg_id=f"{events[0]['id']}-retry")
        await publish(js, events[3], msg_id=f"{events[3]['id']}-retry")
        expected = [e["id"] for e in events]
        await eventually(
            lambda: stored_event_ids(runtime.store, unique_id), lambda got: got == expected, "5 events"
        )
        await consumer_settled(js)
        assert await stored_event_ids(runtime.store, unique_id) == expected
        assert await dead_letters_about(js, unique_id) == []


async def test_state_survives_a_restart_and_events_sent_while_down_arrive(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    settings = settings_for(nats_url, data_dir)
    before = [testing.step_envelope(unique_id, n) for n in range(1, 4)]
    while_down = [testing.step_envelope(unique_id, n) for n in range(4, 7)]
    first = PolicyRuntime(settings)
    async with running(first):
        arrivals = {e["id"]: await publish(js, e) for e in before}
        await eventually(
            lambda: stored_event_ids(first.store, unique_id), lambda got: len(got) == 3, "3 events"
        )
    for event in while_down:
        await publish(js, event)

    second = PolicyRuntime(settings)
    async with running(second):
        expected = [e["id"] for e in before + while_down]
        await eventually(
            lambda: stored_event_ids(second.store, unique_id), lambda got: got == expected, "6 events"
        )
        kept = {e.event_id: e.arrival for e in await second.store.events_for(unique_id)}
    assert {k: kept[k] for k in arrivals} == arrivals


async def test_two_replicas_sharing_the_durable_and_the_file_store_each_event_once(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    settings = settings_for(nats_url, data_dir)
    replicas = (PolicyRuntime(settings.model_copy(update={"replica": "a"})), PolicyRuntime(settings))
    events = [testing.step_envelope(unique_id, n) for n in range(1, 41)]
    async with running(*replicas):
        for event in events:
            await publish(js, event)
        expected = [e["id"] for e in events]
        await eventually(
            lambda: stored_event_ids(replicas[0].store, unique_id), lambda got: got == expected, "40 events"
        )
        await consumer_settled(js)
    reopened = SqlitePolicyStore(settings.sqlite_path("policy"))
    await reopened.open()
    try:
        assert await stored_event_ids(reopened, unique_id) == expected
    finally:
        await reopened.close()


async def test_poison_messages_are_dead_lettered_with_a_reason_and_later_events_still_processed(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    runtime = PolicyRuntime(settings_for(nats_url, data_dir))
    not_json_subject = subjects.event_subject(unique_id, "majorops.incident.declared")
    no_time = testing.step_envelope(unique_id, 1, "majorops.incident.declared")
    del no_time["time"]
    good = testing.step_envelope(unique_id, 2, "majorops.incident.declared")
    async with running(runtime):
        await js.publish(not_json_subject, b"{not json", headers={"Nats-Msg-Id": f"{unique_id}-garbage"})
        await publish(js, no_time)
        await publish(js, good)
        await eventually(
            lambda: stored_event_ids(runtime.store, unique_id), lambda got: got == [good["id"]], "good event"
        )
        letters = await eventually(
            lambda: dead_letters_about(js, unique_id), lambda got: len(got) == 2, "2 dead letters"
        )
    garbage, invalid = sorted(letters, key=lambda letter: letter["payload"] != "{not json")
    assert garbage["payload"] == "{not json"
    assert garbage["reason"].startswith("poison: body is not JSON")
    assert json.loads(invalid["payload"])["id"] == no_time["id"]
    assert invalid["reason"].startswith("poison: invalid event envelope")
    assert "time: is required" in invalid["reason"]
    assert {letter["service"] for letter in letters} == {"policy"}


class FlakyPolicyStore:
    """A real SQLite store whose first write of one event fails, as during a database failover."""

    def __init__(self, inner: SqlitePolicyStore, flaky_event_id: str) -> None:
        self.inner = inner
        self.flaky_event_id = flaky_event_id
        self.failures = 0

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def append_event(self, event: StoredEvent) -> bool:
        if event.event_id == self.flaky_event_id and self.failures == 0:
            self.failures += 1
            raise ConnectionError("store unavailable during failover")
        return await self.inner.append_event(event)

    async def append_events(self, events: Sequence[StoredEvent]) -> list[bool]:
        if any(e.event_id == self.flaky_event_id for e in events) and self.failures == 0:
            self.failures += 1
            raise ConnectionError("store unavailable during failover")
        return await self.inner.append_events(events)

    def __getattr__(self, name: str) -> Any:
        # Every other part of the port (reads, decisions, the fingerprint index) works as usual.
        return getattr(self.inner, name)


async def test_a_transient_store_failure_is_retried_not_dead_lettered(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    settings = settings_for(nats_url, data_dir)
    event = testing.step_envelope(unique_id, 1, "majorops.incident.declared")
    store = FlakyPolicyStore(SqlitePolicyStore(settings.sqlite_path("policy")), event["id"])
    runtime = PolicyRuntime(settings, store=store)
    async with running(runtime):
        await publish(js, event)
        await eventually(
            lambda: stored_event_ids(runtime.store, unique_id), lambda got: got == [event["id"]], "retry"
        )
        await consumer_settled(js)
    assert store.failures == 1
    assert await dead_letters_about(js, unique_id) == []


async def test_policy_runs_as_a_process_logs_json_and_stops_cleanly_on_sigterm(
    nats_url: str, js: JetStreamContext, data_dir: Path, tmp_path: Path, unique_id: str
) -> None:
    log_path = tmp_path / "policy.log"
    environment = testing.settings_env(settings_for(nats_url, data_dir))
    store = SqlitePolicyStore(settings_for(nats_url, data_dir).sqlite_path("policy"))

    async def stored_by_process() -> list[str]:
        if not store.database.path.exists():
            return []
        await store.open()
        try:
            return await stored_event_ids(store, unique_id)
        finally:
            await store.close()

    async with testing.service_process("policy", environment, log_path) as service:
        event = testing.step_envelope(unique_id, 1, "majorops.incident.declared")
        await publish(js, event)
        await eventually(stored_by_process, lambda got: got == [event["id"]], "stored by the process")
        code = await service.stop()
    assert code == 0, log_path.read_text()
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    recorded = [line for line in lines if line.get("event") == "event.recorded"]
    assert any(
        line["incident_id"] == unique_id and line["event_id"] == event["id"] and line["service"] == "policy"
        for line in recorded
    ), lines
    assert any(line.get("event") == "policy.stopped" for line in lines)


async def test_changed_consumer_settings_take_effect_at_the_next_start(
    nats_url: str, js: JetStreamContext, data_dir: Path
) -> None:
    """A bound subscriber never updates its durable: the runtime applies its settings at start."""
    changed = settings_for(nats_url, data_dir).model_copy(update={"max_ack_pending": 77})
    runtime = PolicyRuntime(changed)
    await runtime.start()
    try:
        info = await js.consumer_info(
            subjects.EVENTS_STREAM, subjects.durable_name("policy", subjects.EVENTS_STREAM)
        )
        assert info.config.max_ack_pending == 77
    finally:
        await runtime.stop()
    runtime = PolicyRuntime(settings_for(nats_url, data_dir))
    await runtime.start()
    try:
        info = await js.consumer_info(
            subjects.EVENTS_STREAM, subjects.durable_name("policy", subjects.EVENTS_STREAM)
        )
        assert info.config.max_ack_pending == settings_for(nats_url, data_dir).max_ack_pending
    finally:
        await runtime.stop()
