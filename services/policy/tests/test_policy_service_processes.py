"""Two real ``python -m majorops.policy`` processes on one nats-server and one SQLite file, one of
them killed with SIGKILL midway and restarted: every incident's decisions on
``majorops.decisions.<incident_id>`` are revisions 1..N, each exactly once, and the last one is
what the rules derive from all of the incident's events.

The session's other policy tests share the ``policy-events`` durable consumer: the processes are
stopped before the test ends and the incidents are purged from the streams afterwards. The helpers
are short copies of those in ``test_policy_service_decisions.py`` (importlib mode cannot import them).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from majorops.policy.adapters.sqlite import SqlitePolicyStore
from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.decision import derive_decision, open_items_of
from majorops.policy.domain.facts import fold_facts
from majorops.policy.domain.repeats import RootCauseSighting, find_repeat_of
from majorops.shared import subjects, testing
from majorops.shared.decisions import AfterActionDecision, DecisionContent
from majorops.shared.events import validate_event
from majorops.shared.jetstream import ensure_streams
from majorops.shared.testing import event_envelope, purge_incidents

T = TypeVar("T")
# Generous: a loaded 2-core machine starts a process in seconds, not the usual one.
DEADLINE_SECONDS = 60.0
DURABLE = subjects.durable_name("policy", subjects.EVENTS_STREAM)
BASE = datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday
RESCHEDULES = 28
eventually = functools.partial(testing.eventually, timeout=DEADLINE_SECONDS)


def policy_env(nats_url: str, data_dir: Path) -> dict[str, str]:
    # The consumer settings of the other policy tests: the first runtime of the session creates
    # the shared durable with them. The calendar is pinned because the expected decisions use it.
    return {
        **os.environ,
        "MAJOROPS_NATS_URL": nats_url,
        "MAJOROPS_DATA_DIR": str(data_dir),
        "MAJOROPS_MONGODB_URL": "",
        "MAJOROPS_ACK_WAIT_SECONDS": "3.0",
        "MAJOROPS_RETRY_DELAY_SECONDS": "0.2",
        "MAJOROPS_MAX_DELIVER": "5",
        "MAJOROPS_TIMEZONE": "UTC",
        "MAJOROPS_HOLIDAYS": "",
        "MAJOROPS_LOG_LEVEL": "INFO",
        "MAJOROPS_POLICY_HTTP_PORT": "0",  # replicas on one host: no probe port each
    }


@pytest.fixture
async def js(nats_url: str, unique_id: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    context = nc.jetstream()
    await ensure_streams(context)
    try:
        yield context
        await purge_incidents(context, unique_id)
    finally:
        await nc.drain()


async def publish(js: JetStreamContext, event: dict[str, Any], msg_id: str) -> None:
    """Publish as ingest does: straight to JetStream, with a ``Nats-Msg-Id``."""
    await js.publish(
        subjects.event_subject(event["subject"], event["type"]),
        json.dumps(event).encode(),
        headers={"Nats-Msg-Id": msg_id},
    )


@dataclass(frozen=True)
class OnStream:
    """One message on ``majorops.decisions.<incident_id>``."""

    msg_id: str
    decision: AfterActionDecision


async def decisions_on_stream(js: JetStreamContext, incident: str) -> list[OnStream]:
    """Every message on the incident's decision subject, in stream order."""
    found: list[OnStream] = []
    seq = 1
    while True:
        try:
            msg = await js.get_msg(
                subjects.DECISIONS_STREAM, seq=seq, subject=subjects.decision_subject(incident), next=True
            )
        except NotFoundError:
            return found
        assert msg.data is not None and msg.headers is not None and msg.seq is not None
        found.append(OnStream(msg.headers["Nats-Msg-Id"], AfterActionDecision.model_validate_json(msg.data)))
        seq = msg.seq + 1


async def last_revision(js: JetStreamContext, incident: str) -> int:
    try:
        last = await js.get_last_msg(subjects.DECISIONS_STREAM, subjects.decision_subject(incident))
    except NotFoundError:
        return 0
    assert last.data is not None
    return int(json.loads(last.data)["revision"])


def incident_history(incident: str, n: int, fingerprint: str) -> list[dict[str, Any]]:
    """Incident ``n``'s events: a severity, an end, maybe a root cause and action items, and many
    reschedules of its After Action (each later one moves ``draft_due``, so decisions change often)."""
    start = BASE + timedelta(days=n)

    def at(**offset: float) -> datetime:
        return start + timedelta(**offset)

    def own(suffix: str, type_: str, when: datetime, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """This incident's event ``<incident>-<suffix>``."""
        return event_envelope(incident, f"{incident}-{suffix}", type_, when, data)

    declared = {0: "P1", 1: "low", 2: "P2", 3: "medium", 4: "P3", 5: "high", 6: "P4", 7: "P2"}[n]
    events = [own("d", "incident.declared", at(), {"title": "t", "severity": declared})]
    updates: dict[int, dict[str, Any]] = {
        1: {"severity": "P2"},
        2: {"customer_impact": True},
        3: {"severity": "high"},
        4: {"severity": "low"},
    }
    if n in updates:
        events.append(own("u", "incident.updated", at(minutes=10), updates[n]))
    if n != 6:  # incident 6 stays open
        resolved_after = {1: 80, 2: 100, 3: 120, 5: 160, 7: 200}.get(n, 60)
        events.append(own("r", "incident.resolved", at(minutes=resolved_after)))
        events.append(own("c", "incident.closed", at(hours=4)))
    if n in (1, 3, 5, 6, 7):  # one root cause, so each of these repeats the earlier ones
        rc = {"fingerprint": fingerprint}
        events.append(own("rc", "rootcause.identified", at(hours=5), rc))
    if n == 1:  # confirmed again later: the first sighting still counts
        events.append(own("rc2", "rootcause.identified", at(days=2), {"fingerprint": fingerprint}))
        events += [
            own("ai1", "actionitem.created", at(hours=6), {"item_id": "AI-1", "title": "Cap the pool"}),
            own("ai1u", "actionitem.updated", at(hours=7), {"item_id": "AI-1", "owner": "ana"}),
            own("ai2", "actionitem.created", at(hours=6), {"item_id": "AI-2", "title": "Alert"}),
            own("ai2c", "actionitem.completed", at(hours=8), {"item_id": "AI-2"}),
        ]
    if n == 3:
        events.append(own("ai3", "actionitem.created", at(hours=6), {"item_id": "AI-3", "title": "Retry"}))
    if n == 4:
        unusual = {"fingerprint": f"{fingerprint}-other", "unusual": True}
        events.append(own("rc", "rootcause.identified", at(hours=5), unusual))
    if n == 0:
        events.append(own("held", "afteraction.held", at(days=3)))
        events.append(own("pub", "review.published", at(days=4)))
    events.append(own("s", "afteraction.scheduled", at(hours=6), {"meeting_at": at(days=7).isoformat()}))
    for m in range(RESCHEDULES):
        meeting = {"meeting_at": at(days=7, hours=m + 1).isoformat()}
        events.append(own(f"m{m}", "afteraction.rescheduled", at(hours=6, minutes=m + 1), meeting))
    events += [own(f"t{k}", "timeline.logged", at(minutes=k), {"text": "note"}) for k in (1, 2)]
    return events


def expected_decisions(events: list[dict[str, Any]], incidents: list[str]) -> dict[str, DecisionContent]:
    """What the pure domain derives from each incident's full event set, repeats included."""
    validated = [validate_event(e) for e in events]
    facts = {i: fold_facts([e for e in validated if e.subject == i], i) for i in incidents}
    index = [s for f in facts.values() if (s := RootCauseSighting.of(f)) is not None]
    expected = {}
    for incident, incident_facts in facts.items():
        repeat_of = find_repeat_of(RootCauseSighting.of(incident_facts), index)
        earlier_items = [item for other in repeat_of for item in open_items_of(facts[other])]
        expected[incident] = derive_decision(
            incident_facts, repeat_of, BusinessCalendar("UTC"), earlier_items
        )
    return expected


class PolicyProcess:
    """One ``python -m majorops.policy`` OS process; its JSON log lines go to a file."""

    def __init__(self, env: dict[str, str], replica: str, log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "majorops.policy"],
                env={**env, "MAJOROPS_REPLICA": replica},
                stdout=log,
                stderr=log,
            )

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for text in self.log_path.read_text().splitlines():
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:  # a line still being written, or not JSON
                continue
        return lines

    def recorded(self, prefix: str) -> int:
        """Events of the test's incidents this process stored."""
        return sum(
            1
            for line in self.log_lines()
            if line.get("event") == "event.recorded" and str(line.get("incident_id", "")).startswith(prefix)
        )

    async def started(self) -> None:
        async def events() -> list[Any]:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"policy exited with {self.process.returncode}: {self.log_path.read_text()}"
                )
            return [line.get("event") for line in self.log_lines()]

        await eventually(events, lambda seen: "policy.started" in seen, f"{self.log_path.name} started")

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send the signal and wait for the exit status; a process that hangs is killed."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return await asyncio.to_thread(self.process.wait, DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)
            raise


async def test_two_policy_processes_one_killed_and_restarted_publish_each_revision_once(
    nats_url: str, js: JetStreamContext, data_dir: Path, tmp_path: Path, unique_id: str
) -> None:
    incidents = [f"{unique_id}-{n}" for n in range(8)]
    fingerprint = f"db-pool-{unique_id}"
    events = [e for n, incident in enumerate(incidents) for e in incident_history(incident, n, fingerprint)]
    random.Random(3).shuffle(events)
    # Every tenth event sent again under another Nats-Msg-Id, as a producer retrying after the
    # duplicate window: JetStream keeps both copies, policy must count the event once.
    sends = [(e, e["id"]) for e in events] + [(e, f"{e['id']}-again") for e in events[::10]]
    random.Random(4).shuffle(sends)
    first, second, third = (
        sends[: len(sends) // 2],
        sends[len(sends) // 2 : 7 * len(sends) // 10],
        sends[7 * len(sends) // 10 :],
    )
    env = policy_env(nats_url, data_dir)

    processes: list[PolicyProcess] = []
    try:
        a, b = PolicyProcess(env, "a", tmp_path / "a.log"), PolicyProcess(env, "b", tmp_path / "b.log")
        processes += [a, b]
        await asyncio.gather(a.started(), b.started())
        for event, msg_id in first:
            await publish(js, event, msg_id)
        # Killed while both are deciding, wherever it happens to be: mid-fetch, between the
        # compare-and-set and the publish, or inside a publish.
        await eventually(lambda: asyncio.to_thread(a.recorded, unique_id), lambda n: n >= 5, "a at work")
        assert await a.stop(signal.SIGKILL) == -signal.SIGKILL
        for event, msg_id in second:  # b alone, while a is down
            await publish(js, event, msg_id)
        restarted = PolicyProcess(env, "a", tmp_path / "a-restarted.log")
        processes.append(restarted)
        await restarted.started()
        for event, msg_id in third:  # both again
            await publish(js, event, msg_id)

        # Settled: nothing left to deliver or unacknowledged (a's in-flight messages come back
        # after the ack wait), and the same last revisions twice in a row.
        previous: list[object] = []

        async def progress() -> tuple[int, int, list[int]]:
            info = await js.consumer_info(subjects.EVENTS_STREAM, DURABLE)
            return (
                info.num_pending or 0,
                info.num_ack_pending or 0,
                [await last_revision(js, i) for i in incidents],
            )

        def settled(now: tuple[int, int, list[int]]) -> bool:
            same = previous == [now]
            previous[:] = [now]
            return now[:2] == (0, 0) and same

        await eventually(progress, settled, "decisions settled")
        codes = await asyncio.gather(b.stop(), restarted.stop())
        found = {incident: await decisions_on_stream(js, incident) for incident in incidents}
    finally:
        for process in processes:
            if process.process.poll() is None:
                await process.stop()
    assert list(codes) == [0, 0], [p.log_path.read_text()[-2000:] for p in (b, restarted)]
    assert a.recorded(unique_id) >= 5 and b.recorded(unique_id) > 0

    expected = expected_decisions(events, incidents)
    for incident in incidents:
        on_stream = found[incident]
        assert [m.decision.revision for m in on_stream] == list(range(1, len(on_stream) + 1)), incident
        assert [m.msg_id for m in on_stream] == [f"{incident}:{m.decision.revision}" for m in on_stream]
        assert DecisionContent.of_decision(on_stream[-1].decision) == expected[incident], incident

    # The store the processes shared: each event once, nothing stored but left unpublished.
    store = SqlitePolicyStore(data_dir / "policy.sqlite3")
    await store.open()
    try:
        for incident in incidents:
            state = await store.incident_state(incident)
            assert state.revision == len(found[incident]), incident
            assert state.event_count == sum(1 for e in events if e["subject"] == incident), incident
        assert [d for d in await store.unpublished_decisions() if d.incident_id.startswith(unique_id)] == []
    finally:
        await store.close()

    # A few decisions worked out by hand from CONTRACT §3, so the check above is not only
    # "the service agrees with its own domain".
    last = {incident: found[incident][-1].decision for incident in incidents}
    critical = last[incidents[0]]
    assert (critical.requirement, critical.severity, critical.repeat_of) == ("mandatory", "critical", [])
    assert critical.duration_seconds == 3600
    assert critical.deadlines.schedule_by == datetime(2026, 11, 3, 13, tzinfo=UTC)
    assert critical.deadlines.hold_by == datetime(2026, 11, 9, 13, tzinfo=UTC)  # 5 business days
    assert critical.deadlines.draft_due == BASE + timedelta(days=5, hours=RESCHEDULES)
    assert critical.deadlines.publish_by == BASE + timedelta(days=5)
    assert critical.deadlines.action_review_at == BASE + timedelta(days=34)
    first_seen = last[incidents[1]]  # low raised to high, 80 min, internal: the earliest root cause
    assert (first_seen.requirement, first_seen.severity, first_seen.repeat_of) == ("optional", "high", [])
    assert last[incidents[2]].requirement == "recommended"  # high, 100 min, customer impact
    assert last[incidents[4]].requirement == "optional"  # medium, unusual root cause
    repeat = last[incidents[5]]
    assert (repeat.requirement, repeat.repeat_of) == ("mandatory", [incidents[1], incidents[3]])
    assert [r.rule for r in repeat.reasons] == ["repeat_incident", "high_over_2h"]
    assert [(i.incident_id, i.item_id, i.owner) for i in repeat.repeat_open_action_items] == [
        (incidents[1], "AI-1", "ana"),
        (incidents[3], "AI-3", None),
    ]
    still_open = last[incidents[6]]
    assert still_open.repeat_of == [incidents[1], incidents[3], incidents[5]]
    assert (still_open.closed_at, still_open.deadlines.schedule_by) == (None, None)
    assert last[incidents[7]].repeat_of == [incidents[1], incidents[3], incidents[5], incidents[6]]
