"""Reminders against a real nats-server: events and decisions from JetStream land in its store once.

All tests of the session share one nats-server and so one ``reminders-events`` and one
``reminders-decisions`` durable consumer: each test stops its runtimes before it ends, or another
test's runtime would consume its messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from majorops.reminders.adapters.sqlite import SqliteRemindersStore
from majorops.reminders.bootstrap import RemindersRuntime
from majorops.reminders.config import RemindersSettings
from majorops.shared import subjects, testing
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.testing import (
    consumers_settled,
    dead_letters,
    eventually,
    publish_decision,
    publish_event,
    running,
    stored_event_ids,
)
from majorops.shared.testing import (
    contract_decision as decision,
)

DURABLES = testing.service_durables("reminders", subjects.EVENTS_STREAM, subjects.DECISIONS_STREAM)


def settings_for(nats_url: str, data_dir: Path) -> RemindersSettings:
    # The first runtime of the session creates the durable consumers with the same values in every test.
    return testing.settings_for(RemindersSettings, nats_url, data_dir)


async def latest_revision(runtime: RemindersRuntime, incident: str) -> int | None:
    latest = await runtime.store.latest_decision(incident)
    return None if latest is None else latest.revision


async def reminders_settled(js: JetStreamContext) -> None:
    """Wait until both durables have nothing left to deliver and nothing unacknowledged."""
    await consumers_settled(js, DURABLES, "reminders consumers settled")


async def dead_letters_about(js: JetStreamContext, incident: str) -> list[dict[str, Any]]:
    """Reminders' dead letters for messages published under this incident's subjects."""
    mine = (f"{subjects.EVENTS_ROOT}.{incident}.", subjects.decision_subject(incident))
    return [letter for letter in await dead_letters(js, "reminders") if letter["subject"].startswith(mine)]


async def test_events_and_the_newest_decision_are_stored_once_whatever_the_order(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    runtime = RemindersRuntime(settings_for(nats_url, data_dir))
    events = [testing.step_envelope(unique_id, n) for n in range(1, 5)]
    async with running(runtime):
        for event in events:
            await publish_event(js, event)
        await publish_event(js, events[1], msg_id=f"{events[1]['id']}-retry")
        # Policy's revisions arrive out of order, one of them twice (a retry after the dup window).
        await publish_decision(js, decision(unique_id, 2, "recommended"))
        await publish_decision(js, decision(unique_id, 3))
        await publish_decision(js, decision(unique_id, 1, "not_required"))
        await publish_decision(js, decision(unique_id, 2, "recommended"), msg_id=f"{unique_id}:2:retry")
        expected = [e["id"] for e in events]
        await eventually(
            lambda: stored_event_ids(runtime.store, unique_id), lambda got: got == expected, "4 events"
        )
        await eventually(lambda: latest_revision(runtime, unique_id), lambda rev: rev == 3, "revision 3")
        await reminders_settled(js)
        assert await stored_event_ids(runtime.store, unique_id) == expected
        assert await runtime.store.latest_decision(unique_id) == AfterActionDecision.model_validate(
            decision(unique_id, 3)
        )
        assert await dead_letters_about(js, unique_id) == []


async def test_state_survives_a_restart_and_what_was_sent_while_down_arrives(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    settings = settings_for(nats_url, data_dir)
    first = RemindersRuntime(settings)
    async with running(first):
        await publish_event(js, testing.step_envelope(unique_id, 1))
        await publish_decision(js, decision(unique_id, 1, "not_required"))
        await eventually(
            lambda: stored_event_ids(first.store, unique_id), lambda got: len(got) == 1, "first event"
        )
        await eventually(lambda: latest_revision(first, unique_id), lambda rev: rev == 1, "revision 1")
    await publish_event(js, testing.step_envelope(unique_id, 2, "majorops.incident.closed"))
    await publish_decision(js, decision(unique_id, 2))

    second = RemindersRuntime(settings)
    async with running(second):
        expected = [f"{unique_id}-e1", f"{unique_id}-e2"]
        await eventually(
            lambda: stored_event_ids(second.store, unique_id), lambda got: got == expected, "both events"
        )
        await eventually(lambda: latest_revision(second, unique_id), lambda rev: rev == 2, "revision 2")


async def test_two_replicas_sharing_the_durables_and_the_file_store_each_message_once(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    settings = settings_for(nats_url, data_dir)
    replicas = (RemindersRuntime(settings), RemindersRuntime(settings.model_copy(update={"replica": "b"})))
    events = [testing.step_envelope(unique_id, n) for n in range(1, 21)]
    async with running(*replicas):
        for n, event in enumerate(events, start=1):
            await publish_event(js, event)
            await publish_decision(js, decision(unique_id, n))
        expected = [e["id"] for e in events]
        await eventually(
            lambda: stored_event_ids(replicas[1].store, unique_id), lambda got: got == expected, "20 events"
        )
        await eventually(lambda: latest_revision(replicas[0], unique_id), lambda rev: rev == 20, "rev 20")
        await reminders_settled(js)
        assert await stored_event_ids(replicas[0].store, unique_id) == expected


async def test_poison_decisions_and_events_are_dead_lettered_and_later_messages_processed(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    runtime = RemindersRuntime(settings_for(nats_url, data_dir))
    bad_requirement = decision(unique_id, 1, "maybe")
    async with running(runtime):
        await js.publish(
            subjects.decision_subject(unique_id),
            b"\xff not json",
            headers={"Nats-Msg-Id": f"{unique_id}-garbage"},
        )
        await publish_decision(js, bad_requirement)
        await js.publish(
            subjects.event_subject(unique_id, "majorops.incident.closed"),
            b"[]",
            headers={"Nats-Msg-Id": f"{unique_id}-array"},
        )
        await publish_decision(js, decision(unique_id, 2))
        await publish_event(js, testing.step_envelope(unique_id, 1))
        await eventually(lambda: latest_revision(runtime, unique_id), lambda rev: rev == 2, "good decision")
        await eventually(
            lambda: stored_event_ids(runtime.store, unique_id), lambda got: len(got) == 1, "good event"
        )
        letters = await eventually(
            lambda: dead_letters_about(js, unique_id), lambda got: len(got) == 3, "3 dead letters"
        )
    reasons = {letter["reason"].split(":")[1].strip(): letter for letter in letters}
    assert set(reasons) == {"body is not JSON", "invalid decision", "invalid event envelope"}
    assert "requirement: " in reasons["invalid decision"]["reason"]
    assert reasons["invalid decision"]["subject"] == subjects.decision_subject(unique_id)
    assert "must be a JSON object" in reasons["invalid event envelope"]["reason"]
    assert {letter["service"] for letter in letters} == {"reminders"}


class FlakyRemindersStore:
    """A real SQLite store whose first write of each kind fails for one incident, as in a failover."""

    def __init__(self, inner: SqliteRemindersStore, flaky_incident: str) -> None:
        self.inner = inner
        self.flaky_incident = flaky_incident
        self.failed: list[str] = []

    def __getattr__(self, name: str) -> Any:
        # Everything else (the schedule, the outbox) is the real store's.
        return getattr(self.inner, name)

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    def _fail_once(self, kind: str, incident_id: str) -> None:
        if incident_id == self.flaky_incident and kind not in self.failed:
            self.failed.append(kind)
            raise ConnectionError(f"store unavailable during failover ({kind})")

    async def append_event(self, event: StoredEvent) -> bool:
        self._fail_once("event", event.incident_id)
        return await self.inner.append_event(event)

    async def append_events(self, events: Sequence[StoredEvent]) -> list[bool]:
        for event in events:
            self._fail_once("event", event.incident_id)
        return await self.inner.append_events(events)

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        return await self.inner.events_for(incident_id)

    async def incident_ids(self) -> list[str]:
        return await self.inner.incident_ids()

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        self._fail_once("decision", decision.incident_id)
        return await self.inner.save_decision(decision)

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        return await self.inner.latest_decision(incident_id)


async def test_transient_store_failures_are_retried_not_dead_lettered(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    settings = settings_for(nats_url, data_dir)
    store = FlakyRemindersStore(SqliteRemindersStore(settings.sqlite_path("reminders")), unique_id)
    runtime = RemindersRuntime(settings, store=store)
    async with running(runtime):
        await publish_event(js, testing.step_envelope(unique_id, 1))
        await publish_decision(js, decision(unique_id, 1))
        await eventually(
            lambda: stored_event_ids(runtime.store, unique_id), lambda got: len(got) == 1, "event retried"
        )
        await eventually(
            lambda: latest_revision(runtime, unique_id), lambda rev: rev == 1, "decision retried"
        )
        await reminders_settled(js)
    assert sorted(store.failed) == ["decision", "event"]
    assert await dead_letters_about(js, unique_id) == []


async def test_reminders_runs_as_a_process_and_stops_cleanly_on_sigterm(
    nats_url: str, js: JetStreamContext, data_dir: Path, tmp_path: Path, unique_id: str
) -> None:
    log_path = tmp_path / "reminders.log"
    environment = testing.settings_env(settings_for(nats_url, data_dir))
    store = SqliteRemindersStore(settings_for(nats_url, data_dir).sqlite_path("reminders"))

    async def stored_by_process() -> tuple[list[str], int | None]:
        if not store.database.path.exists():
            return [], None
        await store.open()
        try:
            latest = await store.latest_decision(unique_id)
            return await stored_event_ids(store, unique_id), None if latest is None else latest.revision
        finally:
            await store.close()

    async with testing.service_process("reminders", environment, log_path) as service:
        await publish_event(js, testing.step_envelope(unique_id, 1))
        await publish_decision(js, decision(unique_id, 1))
        expected = ([f"{unique_id}-e1"], 1)
        await eventually(stored_by_process, lambda got: got == expected, "stored by the process")
        code = await service.stop()
    assert code == 0, log_path.read_text()
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert any(
        line.get("event") == "event.recorded"
        and line["incident_id"] == unique_id
        and line["event_id"] == f"{unique_id}-e1"
        and line["service"] == "reminders"
        for line in lines
    ), lines
    assert any(
        line.get("event") == "decision.recorded" and line["incident_id"] == unique_id for line in lines
    )
    assert any(line.get("event") == "reminders.stopped" for line in lines)
