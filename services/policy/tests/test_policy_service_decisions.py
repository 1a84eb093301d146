"""Policy's decisions on a real nats-server: events in on ``majorops.events.>``, decisions out on
``majorops.decisions.<incident_id>``, read back from the stream — one message per revision.

All tests of the session share one nats-server and so one ``policy-events`` durable consumer:
each test stops its runtimes before it ends, or another test's runtime would consume its events.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from pydantic import ValidationError

from majorops.policy.adapters.jetstream import JetStreamDecisionPublisher
from majorops.policy.adapters.sqlite import SqlitePolicyStore
from majorops.policy.bootstrap import PolicyRuntime
from majorops.policy.config import PolicySettings
from majorops.policy.domain.business_days import BusinessCalendar
from majorops.shared import subjects, testing
from majorops.shared.decisions import AfterActionDecision, DecisionContent
from majorops.shared.events import validate_event
from majorops.shared.outcomes import UnacknowledgedPublish
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.testing import (
    DEADLINE_SECONDS,
    consumers_settled,
    eventually,
    msg_id_of,
    running,
    stored_messages,
)
from majorops.shared.testing import publish_event as publish

DURABLES = testing.service_durables("policy", subjects.EVENTS_STREAM)


def settings_for(nats_url: str, data_dir: Path, **changes: Any) -> PolicySettings:
    # The consumer values are every test's (see majorops.shared.testing): the first runtime of the
    # session creates the shared durable consumer with them.
    return testing.settings_for(PolicySettings, nats_url, data_dir, **changes)


def settings_env(nats_url: str, data_dir: Path) -> dict[str, str]:
    """The same settings as :func:`settings_for`, as the environment of a policy process."""
    return testing.settings_env(settings_for(nats_url, data_dir))


@dataclass(frozen=True)
class OnStream:
    """One message on ``majorops.decisions.<incident_id>``."""

    msg_id: str
    decision: AfterActionDecision


async def decisions_on_stream(js: JetStreamContext, incident: str) -> list[OnStream]:
    """Every message on the incident's decision subject, in stream order."""
    return [
        OnStream(msg_id_of(msg), AfterActionDecision.model_validate_json(msg.data or b""))
        for msg in await stored_messages(js, subjects.DECISIONS_STREAM, subjects.decision_subject(incident))
    ]


def revisions(found: list[OnStream]) -> list[int]:
    return [m.decision.revision for m in found]


def content(decision: AfterActionDecision) -> dict[str, Any]:
    return decision.model_dump(mode="json", exclude={"revision", "incident_id"})


async def consumer_settled(js: JetStreamContext, timeout: float = DEADLINE_SECONDS) -> None:
    """Wait until the durable has nothing left to deliver and nothing unacknowledged (all handled)."""
    await consumers_settled(js, DURABLES, "policy consumer settled", timeout)


async def settled_decisions(js: JetStreamContext, incident: str) -> list[OnStream]:
    """The incident's decisions once policy handled every event published so far.

    A decision whose publish failed under load is published by the next handling or the sweep,
    after its event was acknowledged: wait until the stream shows one and stops changing.
    """
    await consumer_settled(js)
    previous: list[OnStream] = []

    async def read() -> list[OnStream]:
        return await decisions_on_stream(js, incident)

    def stable(found: list[OnStream]) -> bool:
        nonlocal previous
        done = bool(found) and revisions(found) == revisions(previous)
        previous = found
        return done

    return await eventually(read, stable, f"the decisions of {incident} to settle", interval=0.2)


async def publish_each_awaiting_its_decision(js: JetStreamContext, events: list[dict[str, Any]]) -> None:
    """Publish one event at a time, each once the previous one's new revision is on the stream.

    A replica handles the messages of one fetch concurrently, so events published together may
    be decided together (fewer revisions); one at a time, each of these changes the decision once.
    """

    async def one(event: dict[str, Any]) -> None:
        incident = event["subject"]
        seen = len(await decisions_on_stream(js, incident))
        await publish(js, event)
        await eventually(
            lambda: decisions_on_stream(js, incident),
            lambda got: len(got) > seen,
            f"a new decision after {event['id']}",
        )

    for event in events:
        await one(event)


def assert_one_message_per_revision(found: list[OnStream], incident: str) -> None:
    """Revisions 1..N, each exactly once, in order, each with its ``Nats-Msg-Id``."""
    counted = Counter(revisions(found))
    assert revisions(found) == list(range(1, len(found) + 1)), (incident, counted)
    assert [m.msg_id for m in found] == [f"{incident}:{m.decision.revision}" for m in found]


async def test_the_contract_example_in_gives_its_decision_out_one_message_per_revision(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    runtime = PolicyRuntime(settings_for(nats_url, data_dir))
    async with running(runtime):
        await publish_each_awaiting_its_decision(js, testing.contract_example_events(unique_id))
        found = await settled_decisions(js, unique_id)
    assert_one_message_per_revision(found, unique_id)
    assert revisions(found) == [1, 2, 3, 4]
    assert found[-1].decision.model_dump(mode="json") == testing.contract_example_published(unique_id)


async def test_events_that_change_nothing_publish_nothing_also_redelivered_or_republished(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    runtime = PolicyRuntime(settings_for(nats_url, data_dir))
    events = testing.contract_example_events(unique_id)
    async with running(runtime):
        await publish_each_awaiting_its_decision(js, events)
        await publish(
            js,
            testing.event_envelope(
                unique_id, f"{unique_id}-note", "timeline.logged", "2026-11-20T12:30:00Z", {"text": "ok"}
            ),
        )
        # A producer retrying after the duplicate window: JetStream keeps the copy, policy ignores it.
        await publish(js, events[1], msg_id=f"{events[1]['id']}-retry")
        await consumer_settled(js)
        found = await decisions_on_stream(js, unique_id)
    assert revisions(found) == [1, 2, 3, 4]


async def test_shuffled_and_duplicated_events_reach_the_same_decision(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    in_order, shuffled = f"{unique_id}-a", f"{unique_id}-b"
    runtime = PolicyRuntime(settings_for(nats_url, data_dir))
    mixed = testing.contract_example_events(shuffled) * 2
    random.Random(7).shuffle(mixed)
    async with running(runtime):
        for event in testing.contract_example_events(in_order):
            await publish(js, event)
        for n, event in enumerate(mixed):
            await publish(js, event, msg_id=f"{event['id']}-{n}")
        expected = (await settled_decisions(js, in_order))[-1].decision
        found = await decisions_on_stream(js, shuffled)
    assert_one_message_per_revision(found, shuffled)
    assert content(found[-1].decision) == content(expected)


async def publish_own(
    js: JetStreamContext, incident: str, suffix: str, type_: str, time: str, data: dict[str, Any]
) -> None:
    """Publish ``incident``'s event ``<incident>-<suffix>`` as its producer does."""
    await publish(js, testing.event_envelope(incident, f"{incident}-{suffix}", type_, time, data))


async def test_a_late_root_cause_of_an_earlier_incident_republishes_the_later_one_as_a_repeat(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    earlier, later = f"{unique_id}-1", f"{unique_id}-2"
    fingerprint = f"db-pool-{unique_id}"
    runtime = PolicyRuntime(settings_for(nats_url, data_dir))
    async with running(runtime):
        await publish_own(
            js, later, "d", "incident.declared", "2026-11-20T09:00:00Z", {"title": "Slow", "severity": "low"}
        )
        await publish_own(
            js, later, "rc", "rootcause.identified", "2026-11-20T10:00:00Z", {"fingerprint": fingerprint}
        )
        before = await settled_decisions(js, later)
        assert before[-1].decision.repeat_of == []
        # The earlier incident and its root cause, identified weeks before, arrive only now.
        await publish_own(
            js,
            earlier,
            "d",
            "incident.declared",
            "2026-11-01T09:00:00Z",
            {"title": "Slow", "severity": "low"},
        )
        await publish_own(
            js,
            earlier,
            "ai",
            "actionitem.created",
            "2026-11-02T09:00:00Z",
            {"item_id": "AI-7", "title": "Cap the pool"},
        )
        await publish_own(
            js, earlier, "rc", "rootcause.identified", "2026-11-01T10:00:00Z", {"fingerprint": fingerprint}
        )
        found = await settled_decisions(js, later)
        assert len(found) > len(before)
        # And a new incident with that root cause is a repeat of both, from its first decision on it.
        third = f"{unique_id}-3"
        await publish_own(
            js, third, "rc", "rootcause.identified", "2026-11-25T10:00:00Z", {"fingerprint": fingerprint}
        )
        newest = await settled_decisions(js, third)
        earliest = await decisions_on_stream(js, earlier)
    assert_one_message_per_revision(found, later)
    repeat = found[-1].decision.model_dump(mode="json")
    assert (repeat["requirement"], repeat["repeat_of"]) == ("mandatory", [earlier])
    assert repeat["reasons"][0]["rule"] == "repeat_incident"
    assert [(i["incident_id"], i["item_id"], i["title"]) for i in repeat["repeat_open_action_items"]] == [
        (earlier, "AI-7", "Cap the pool")
    ]
    assert earliest[-1].decision.repeat_of == []
    assert newest[-1].decision.repeat_of == [earlier, later]


async def test_two_replicas_deciding_concurrently_publish_every_revision_exactly_once(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    settings = settings_for(nats_url, data_dir)
    replicas = (PolicyRuntime(settings.model_copy(update={"replica": "a"})), PolicyRuntime(settings))
    incidents = [f"{unique_id}-{i}" for i in range(6)]
    fingerprint = f"shared-{unique_id}"
    base = datetime(2026, 11, 20, 9, tzinfo=UTC)
    events: list[dict[str, Any]] = []
    for i, incident in enumerate(incidents):
        start = base + timedelta(days=i)
        events.append(
            testing.event_envelope(
                incident,
                f"{incident}-d",
                "incident.declared",
                start.isoformat(),
                {"title": "t", "severity": "low"},
            )
        )
        events.append(
            testing.event_envelope(
                incident,
                f"{incident}-rc",
                "rootcause.identified",
                (start + timedelta(hours=1)).isoformat(),
                {"fingerprint": fingerprint},
            )
        )
        events.append(
            testing.event_envelope(
                incident,
                f"{incident}-ai",
                "actionitem.created",
                (start + timedelta(hours=2)).isoformat(),
                {"item_id": "AI-1", "title": "fix"},
            )
        )
        for n in range(47):  # each a later reschedule: a new draft_due whenever it is the latest yet
            at = start + timedelta(hours=3, minutes=n)
            meeting = start + timedelta(days=10, hours=n)
            events.append(
                testing.event_envelope(
                    incident,
                    f"{incident}-m{n}",
                    "afteraction.rescheduled",
                    at.isoformat(),
                    {"meeting_at": meeting.isoformat()},
                )
            )
    random.Random(11).shuffle(events)
    async with running(*replicas):
        for event in events:
            await publish(js, event)
        await consumer_settled(js, timeout=40.0)
        found = {incident: await decisions_on_stream(js, incident) for incident in incidents}
    assert len(events) == 300
    for i, incident in enumerate(incidents):
        assert_one_message_per_revision(found[incident], incident)
        last = found[incident][-1].decision
        assert last.repeat_of == incidents[:i]
        start = base + timedelta(days=i)
        assert last.deadlines.draft_due == start + timedelta(days=10, hours=46) - timedelta(hours=48)
        open_items = last.model_dump(mode="json")["repeat_open_action_items"]
        assert [item["incident_id"] for item in open_items] == incidents[:i]


async def test_the_publisher_appends_each_revision_once_in_order_also_from_two_replicas(
    nats_url: str, js: JetStreamContext, unique_id: str
) -> None:
    other_connection = await nats.connect(nats_url)
    try:
        replica_a, replica_b = (
            JetStreamDecisionPublisher(js),
            JetStreamDecisionPublisher(other_connection.jetstream()),
        )
        content = DecisionContent.model_validate({"incident_id": unique_id, "requirement": "not_required"})
        assert await replica_a.publish(content.with_revision(1)) is True
        assert await replica_a.publish(content.with_revision(1)) is False  # a lost mark, published again
        both = await asyncio.gather(
            replica_a.publish(content.with_revision(2)), replica_b.publish(content.with_revision(2))
        )
        assert sorted(both) == [False, True]
        assert await replica_b.publish(content.with_revision(3)) is True
        # A replica that stalled between its compare-and-set and its publish: too late, not appended.
        assert await replica_a.publish(content.with_revision(2)) is False
    finally:
        await other_connection.drain()
    found = await decisions_on_stream(js, unique_id)
    assert_one_message_per_revision(found, unique_id)
    assert revisions(found) == [1, 2, 3]


class PublisherFailingOnce:
    """The real JetStream publisher, whose first publish fails as in a NATS outage or a crash."""

    def __init__(self, inner: JetStreamDecisionPublisher) -> None:
        self.inner = inner
        self.failures = 0

    async def publish(self, decision: AfterActionDecision) -> bool:
        if self.failures == 0:
            self.failures += 1
            raise UnacknowledgedPublish("publish to majorops.decisions not acknowledged: timeout")
        return await self.inner.publish(decision)


async def test_a_revision_stored_but_not_published_is_published_exactly_once(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    publisher = PublisherFailingOnce(JetStreamDecisionPublisher(js))
    runtime = PolicyRuntime(settings_for(nats_url, data_dir), publisher=publisher)
    async with running(runtime):
        await publish_each_awaiting_its_decision(js, testing.contract_example_events(unique_id))
        found = await settled_decisions(js, unique_id)
    assert publisher.failures == 1
    assert_one_message_per_revision(found, unique_id)
    assert revisions(found) == [1, 2, 3, 4]


async def test_a_restarted_policy_publishes_what_a_crash_left_unpublished_without_a_new_event(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    settings = settings_for(nats_url, data_dir)
    # The state kill -9 leaves right after the compare-and-set: revision 1 stored, not on the stream.
    crashed = SqlitePolicyStore(settings.sqlite_path("policy"))
    await crashed.open()
    declared = testing.event_envelope(
        unique_id,
        f"{unique_id}-d",
        "incident.declared",
        "2026-11-20T09:00:00Z",
        {"title": "t", "severity": "P1"},
    )
    await crashed.append_event(StoredEvent.from_event(validate_event(declared), 1))
    content = DecisionContent.model_validate({"incident_id": unique_id, "requirement": "mandatory"})
    assert await crashed.save_decision(unique_id, content, 0, 1)
    await crashed.close()
    runtime = PolicyRuntime(settings)
    async with running(runtime):
        found = await eventually(
            lambda: decisions_on_stream(js, unique_id), lambda got: len(got) == 1, "swept"
        )
        assert await runtime.store.unpublished_decisions() == []
    assert found[0].decision == content.with_revision(1)
    assert found[0].msg_id == f"{unique_id}:1"


async def test_the_organisation_calendar_from_the_environment_sets_the_hold_deadline(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    settings = settings_for(nats_url, data_dir, timezone="Europe/Berlin", holidays="DE-BY")
    runtime = PolicyRuntime(settings)
    async with running(runtime):
        await publish(
            js,
            testing.event_envelope(
                unique_id,
                f"{unique_id}-d",
                "incident.declared",
                "2026-01-05T08:00:00Z",
                {"title": "t", "severity": "P1"},
            ),
        )
        # Monday 5 January 2026, 10:00 in Berlin; Tuesday is Epiphany, a holiday in Bavaria.
        await publish(
            js, testing.event_envelope(unique_id, f"{unique_id}-c", "incident.closed", "2026-01-05T09:00:00Z")
        )
        found = await settled_decisions(js, unique_id)
    assert found[-1].decision.deadlines.hold_by == datetime(2026, 1, 13, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("MAJOROPS_TIMEZONE", "Mars/Olympus_Mons", "unknown IANA time zone 'Mars/Olympus_Mons'"),
        ("MAJOROPS_HOLIDAYS", "DE-ZZ", "'DE' has no subdivision 'ZZ'"),
    ],
)
async def test_an_unknown_calendar_setting_stops_the_process_at_once_with_one_clear_line(
    tmp_path: Path, variable: str, value: str, why: str
) -> None:
    # Nothing listens on this NATS URL: the process must refuse before it tries to connect.
    env = {**os.environ, **settings_env("nats://127.0.0.1:9", tmp_path / "data"), variable: value}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "majorops.policy"],
        env=env,
        capture_output=True,
        timeout=DEADLINE_SECONDS,
    )
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 78, done.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"majorops policy: refusing to start: {variable}=")
    assert why in lines[0]
    assert not (tmp_path / "data").exists()


async def test_after_kill_9_a_restarted_policy_completes_every_revision_exactly_once(
    nats_url: str, js: JetStreamContext, data_dir: Path, tmp_path: Path, unique_id: str
) -> None:
    env = {**os.environ, **settings_env(nats_url, data_dir)}
    base = datetime(2026, 11, 20, 9, tzinfo=UTC)
    events = [
        testing.event_envelope(
            unique_id,
            f"{unique_id}-d",
            "incident.declared",
            base.isoformat(),
            {"title": "t", "severity": "P1"},
        )
    ]
    for n in range(150):
        at, meeting = base + timedelta(minutes=n + 1), base + timedelta(days=10, hours=n)
        events.append(
            testing.event_envelope(
                unique_id,
                f"{unique_id}-m{n}",
                "afteraction.rescheduled",
                at.isoformat(),
                {"meeting_at": meeting.isoformat()},
            )
        )

    def start(name: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        return subprocess.Popen([sys.executable, "-m", "majorops.policy"], env=env, stdout=log, stderr=log)

    async def trickle() -> None:
        # A steady trickle, as live: policy decides in small batches, a revision for each.
        for event in events:
            await publish(js, event)
            await asyncio.sleep(0.01)

    first = start("first")
    second: subprocess.Popen[bytes] | None = None
    await eventually(
        lambda: asyncio.to_thread((tmp_path / "first.log").read_text),
        lambda text: "policy.started" in text,
        "first process started",
    )
    publishing = asyncio.create_task(trickle())
    try:
        # Killed mid-stream, wherever it happens to be: between store and publish, or in a CAS.
        await eventually(
            lambda: decisions_on_stream(js, unique_id), lambda got: len(got) >= 3, "first decisions"
        )
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, DEADLINE_SECONDS)
        killed_at = len(await decisions_on_stream(js, unique_id))
        await publishing
        second = start("second")
        await eventually(
            lambda: asyncio.to_thread((tmp_path / "second.log").read_text),
            lambda text: "policy.started" in text,
            "second process started",
        )
        await consumer_settled(js, timeout=30.0)
        found = await decisions_on_stream(js, unique_id)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, DEADLINE_SECONDS) == 0
    finally:
        publishing.cancel()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    assert_one_message_per_revision(found, unique_id)
    assert killed_at < len(found), "the kill came after the last decision: nothing was left to complete"
    assert found[-1].decision.deadlines.draft_due == base + timedelta(days=10, hours=149) - timedelta(
        hours=48
    )


def test_the_calendar_settings_default_to_utc_without_holidays_and_are_checked() -> None:
    assert PolicySettings().business_calendar() == BusinessCalendar("UTC", None)
    assert PolicySettings(holidays="  ").holidays is None
    berlin = PolicySettings(timezone="Europe/Berlin", holidays="DE-BY").business_calendar()
    assert berlin.holiday_name(datetime(2026, 1, 6).date()) is not None
    with pytest.raises(ValidationError, match="unknown holiday calendar 'XX'"):
        PolicySettings(holidays="XX")
    with pytest.raises(ValidationError, match="unknown IANA time zone 'europe/berlin'"):
        PolicySettings(timezone="europe/berlin")
