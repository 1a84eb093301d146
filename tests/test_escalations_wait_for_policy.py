"""A deadline the events have already moved never fires while policy lags behind them.

Found by the reliability campaign (RELIABILITY.md, ``chaos/``): reminders reads the deadlines from
policy's decisions. With policy stalled — here its SQLite store locked by another process, as in the
campaign's store outage — a meeting rescheduled a week later, a few seconds before the old draft
deadline, reached reminders while the only decision it had still named the old deadline, and
``draft_not_distributed`` fired although every event JetStream held said the draft was due next week
(CONTRACT §4: the outcome depends only on the incident's events). Reminders now also waits for
policy to have decided on every event of the incident before it fires.

Real nats-server, real policy and reminders runtimes and their SQLite stores; the lock is a real
second connection holding ``BEGIN EXCLUSIVE`` on policy's file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from majorops.policy.bootstrap import PolicyRuntime
from majorops.policy.config import PolicySettings
from majorops.reminders.bootstrap import RemindersRuntime
from majorops.reminders.config import RemindersSettings
from majorops.shared import subjects, testing
from majorops.shared.testing import eventually, iso, publish_event, running, stored_messages


def envelope(
    incident: str, n: int, kind: str, at: datetime, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    return testing.event_envelope(incident, f"{incident}-{n}", f"majorops.{kind}", iso(at), data)


async def decisions_of(js: JetStreamContext, incident: str) -> list[dict[str, Any]]:
    messages = await stored_messages(js, subjects.DECISIONS_STREAM, subjects.decision_subject(incident))
    return [json.loads(m.data or b"{}") for m in messages]


async def drafts_escalated(js: JetStreamContext, incident: str) -> list[str]:
    subject = subjects.escalation_subject(incident, "draft_not_distributed")
    return [testing.msg_id_of(m) for m in await stored_messages(js, subjects.ESCALATIONS_STREAM, subject)]


async def test_a_reschedule_policy_has_not_decided_yet_keeps_the_old_draft_deadline_from_firing(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    policy = PolicyRuntime(testing.settings_for(PolicySettings, nats_url, data_dir))
    reminders = RemindersRuntime(
        testing.settings_for(RemindersSettings, nats_url, data_dir, escalation_interval="PT2S")
    )
    now = datetime.now(UTC).replace(microsecond=0)
    closed = now - timedelta(days=3)
    old_deadline = now + timedelta(seconds=10)
    history = [
        envelope(
            unique_id, 1, "incident.declared", closed - timedelta(hours=1), {"title": "t", "severity": "P1"}
        ),
        envelope(unique_id, 2, "incident.resolved", closed - timedelta(minutes=10)),
        envelope(unique_id, 3, "incident.closed", closed),
        envelope(
            unique_id,
            4,
            "afteraction.scheduled",
            closed + timedelta(hours=2),
            {"meeting_at": iso(old_deadline + timedelta(hours=48))},
        ),
    ]
    async with running(policy, reminders):
        for event in history:
            await publish_event(js, event)
        first = await eventually(
            lambda: decisions_of(js, unique_id),
            lambda found: bool(found) and found[-1]["deadlines"]["draft_due"] is not None,
            "the decision naming the draft deadline",
        )
        assert first[-1]["deadlines"]["draft_due"] == iso(old_deadline)

        lock = sqlite3.connect(data_dir / "policy.sqlite3", timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # policy's store is out: it cannot decide anything new
        try:
            moved = envelope(
                unique_id,
                5,
                "afteraction.rescheduled",
                datetime.now(UTC).replace(microsecond=0),
                {"meeting_at": iso(old_deadline + timedelta(days=7))},
            )
            await publish_event(js, moved)
            # Past the old deadline (and its level 2): reminders holds the reschedule, policy does not.
            await asyncio.sleep((old_deadline - datetime.now(UTC)).total_seconds() + 3)
            assert await drafts_escalated(js, unique_id) == []
        finally:
            lock.execute("ROLLBACK")
            lock.close()

        latest = await eventually(
            lambda: decisions_of(js, unique_id),
            lambda found: found[-1]["deadlines"]["draft_due"] != iso(old_deadline),
            "the decision with the moved deadline",
        )
        assert latest[-1]["deadlines"]["draft_due"] == iso(old_deadline + timedelta(days=5))
        await asyncio.sleep(3)  # what reminders would still send once policy caught up
        assert await drafts_escalated(js, unique_id) == []
