"""Escalations and heads-ups in real time, on a real nats-server, with a 2 s escalation interval.

What a subscriber of ``majorops.escalations.>`` and ``majorops.reminders.>`` sees: each level at its
time (never early, less than a second late), nothing more once the obligation is met, a backdated
incident escalated at once, and a whole history replayed in one burst firing only what would have
fired live. Escalations are read back from the stream itself, so duplicates would show.

All tests of the session share one nats-server and reminders' durable consumers: each test stops its
runtime before it ends (see ``test_reminders_service_runtime``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from nats.js import JetStreamContext

from majorops.reminders.bootstrap import RemindersRuntime
from majorops.reminders.config import RemindersSettings
from majorops.shared import subjects, testing
from majorops.shared.testing import (
    consumers_settled,
    iso,
    msg_id_of,
    publish_decision,
    publish_event,
    stored_messages,
)

T = TypeVar("T")
INTERVAL = timedelta(seconds=2)
ON_TIME = timedelta(seconds=1)
DURABLES = testing.service_durables("reminders", subjects.EVENTS_STREAM, subjects.DECISIONS_STREAM)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def settings_for(nats_url: str, data_dir: Path, interval: str = "PT2S") -> RemindersSettings:
    # The consumer values must match the other test modules': the first runtime creates the durables.
    return testing.settings_for(RemindersSettings, nats_url, data_dir, escalation_interval=interval)


event = testing.IncidentEvents(source="test", unique_ids=True).envelope


def decision(
    incident: str,
    *,
    revision: int = 1,
    closed_at: datetime,
    schedule_by: datetime,
    hold_by: datetime,
    severity: str = "high",
    **deadlines: datetime,
) -> dict[str, Any]:
    return {
        "incident_id": incident,
        "revision": revision,
        "requirement": "mandatory",
        "reasons": [{"rule": "high_over_2h", "text": "High incident over 2 h"}],
        "severity": severity,
        "duration_seconds": 9000,
        "customer_impact": True,
        "repeat_of": [],
        "closed_at": iso(closed_at),
        "deadlines": {
            "schedule_by": iso(schedule_by),
            "hold_by": iso(hold_by),
            **{name: iso(at) for name, at in deadlines.items()},
        },
    }


def people(incident: str, at: datetime) -> list[dict[str, Any]]:
    return [
        event("role.assigned", at, incident=incident, role="mim", person="Dana Reyes"),
        event("role.assigned", at, incident=incident, role="service_manager", person="Sam Lee"),
        event("role.assigned", at, incident=incident, role="engineering_director", person="Kim Park"),
    ]


@dataclass(frozen=True)
class Seen:
    """One message as the stream holds it."""

    subject: str
    msg_id: str
    body: dict[str, Any]
    stored_at: datetime


async def stream_messages(js: JetStreamContext, subject_filter: str) -> list[Seen]:
    """Every message of the escalations stream on these subjects, in stream order."""
    found = await stored_messages(js, subjects.ESCALATIONS_STREAM, subject_filter)
    assert all(msg.data is not None and msg.time is not None for msg in found)
    return [Seen(msg.subject or "", msg_id_of(msg), json.loads(msg.data), msg.time) for msg in found]


async def escalations_of(js: JetStreamContext, incident: str) -> list[Seen]:
    return await stream_messages(js, f"{subjects.ESCALATIONS_ROOT}.{incident}.>")


async def heads_ups_of(js: JetStreamContext, incident: str) -> list[Seen]:
    return await stream_messages(js, f"{subjects.REMINDERS_ROOT}.{incident}.>")


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str, timeout: float = 15.0
) -> T:
    return await testing.eventually(probe, done, what, timeout)


async def reminders_settled(js: JetStreamContext) -> None:
    await consumers_settled(js, DURABLES, "reminders consumers settled", timeout=15.0)


async def notices_once_settled(js: JetStreamContext, incident: str) -> tuple[list[Seen], list[Seen]]:
    """The incident's escalations and heads-ups once reminders has handled everything (and a scheduler
    pass had the time to send anything wrongly due)."""
    await reminders_settled(js)
    await asyncio.sleep(0.5)
    return await escalations_of(js, incident), await heads_ups_of(js, incident)


async def sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0))


def level_time(seen: Seen) -> datetime:
    level: int = seen.body["level"]
    return parse(seen.body["due_at"]) + (level - 1) * INTERVAL


def assert_on_time(seen: Seen, at: datetime | None = None) -> None:
    """Fired (and stored in the stream) at its time or less than a second after it, never before."""
    due = at or level_time(seen)
    fired = parse(seen.body["fired_at"])
    assert due <= fired < due + ON_TIME, (seen.msg_id, due, fired)
    assert due <= seen.stored_at < due + ON_TIME, (seen.msg_id, due, seen.stored_at)


async def test_levels_fire_on_time_and_stop_once_met(
    nats_url: str, js: JetStreamContext, data_dir: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    never, late, early, item = (f"T-{run}-{name}" for name in ("never", "late", "early", "item"))
    runtime = RemindersRuntime(settings_for(nats_url, data_dir))
    await runtime.start()
    try:
        now = datetime.now(UTC)
        due = now + timedelta(seconds=1.5)
        far = now + timedelta(days=30)
        for incident in (never, late, early):
            for body in people(incident, now - timedelta(hours=3)):
                await publish_event(js, body)
            await publish_event(js, event("incident.closed", now - timedelta(hours=1), incident=incident))
            await publish_decision(
                js, decision(incident, closed_at=now - timedelta(hours=1), schedule_by=due, hold_by=far)
            )
        # Met before it was due: nothing may ever fire for this one.
        await publish_event(js, event("afteraction.scheduled", now, incident=early, meeting_at=iso(far)))
        # An action item due soon: a heads-up to its owner at once, then escalations until completed.
        await publish_event(
            js,
            event(
                "actionitem.created",
                now,
                incident=item,
                item_id="AI-7",
                title="Add pool alarm",
                owner="Ravi",
                due=iso(due),
            ),
        )

        await sleep_until(due + timedelta(seconds=1))
        # Scheduled (event time: 1 s after due) after level 1 fired: levels 2 and 3 must not fire.
        await publish_event(
            js, event("afteraction.scheduled", due + timedelta(seconds=1), incident=late, meeting_at=iso(far))
        )
        await publish_event(
            js, event("actionitem.completed", due + timedelta(seconds=1), incident=item, item_id="AI-7")
        )

        never_seen = await eventually(
            lambda: escalations_of(js, never), lambda got: len(got) == 3, "3 levels of the unmet obligation"
        )
        await sleep_until(due + 3 * INTERVAL)
        await reminders_settled(js)
        late_seen, early_seen = await escalations_of(js, late), await escalations_of(js, early)
        item_seen, item_heads_up = await escalations_of(js, item), await heads_ups_of(js, item)
        never_seen = await escalations_of(js, never)
    finally:
        await runtime.stop()

    assert [s.msg_id for s in never_seen] == [f"{never}:after_action_not_scheduled:{n}" for n in (1, 2, 3)]
    for seen in never_seen:
        assert_on_time(seen)
        assert seen.subject == f"majorops.escalations.{never}.after_action_not_scheduled"
        assert seen.body["due_at"] == iso(due)
    assert [s.body["notify"] for s in never_seen] == [
        {"role": "mim", "person": "Dana Reyes"},
        {"role": "service_manager", "person": "Sam Lee"},
        {"role": "engineering_director", "person": "Kim Park"},
    ]
    assert never_seen[0].body["message"].startswith(f"After Action for {never} not scheduled")
    assert "escalated to the engineering director (level 3)" in never_seen[2].body["message"]

    assert [s.msg_id for s in late_seen] == [f"{late}:after_action_not_scheduled:1"]
    assert_on_time(late_seen[0])
    assert early_seen == []

    assert [s.msg_id for s in item_seen] == [f"{item}:action_item_overdue:AI-7:1"]
    assert_on_time(item_seen[0])
    assert [s.msg_id for s in item_heads_up] == [f"{item}:action_item_due:AI-7:heads_up"]
    assert item_heads_up[0].subject == f"majorops.reminders.{item}.action_item_due"
    assert item_heads_up[0].body["notify"] == {"role": "action_item_owner", "person": "Ravi"}
    # Sent as soon as the item was known (its deadline was less than the lead time away).
    assert item_heads_up[0].stored_at < now + ON_TIME


async def test_a_backdated_incident_escalates_at_once(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    runtime = RemindersRuntime(settings_for(nats_url, data_dir))
    await runtime.start()
    try:
        now = datetime.now(UTC)
        closed = now - timedelta(days=3)
        for body in people(unique_id, closed - timedelta(hours=2)):
            await publish_event(js, body)
        await publish_event(js, event("incident.closed", closed, incident=unique_id))
        published_at = datetime.now(UTC)
        await publish_decision(
            js,
            decision(
                unique_id,
                closed_at=closed,
                schedule_by=closed + timedelta(days=1),
                hold_by=now + timedelta(days=2),
            ),
        )
        seen = await eventually(
            lambda: escalations_of(js, unique_id), lambda got: len(got) >= 3, "the 3 past levels"
        )
        seen, heads_up = await notices_once_settled(js, unique_id)
    finally:
        await runtime.stop()
    assert sorted(s.msg_id for s in seen) == [
        f"{unique_id}:after_action_not_scheduled:{n}" for n in (1, 2, 3)
    ]
    for s in seen:
        # Levels whose time passed before the obligation was known fire as soon as it is known.
        assert_on_time(s, at=published_at)
        assert s.body["due_at"] == iso(closed + timedelta(days=1))
    # hold_by is 2 days away: no heads-up yet (the lead is 24 h) and no escalation.
    assert heads_up == []


async def test_a_history_replayed_in_one_burst_fires_only_what_would_have_fired_live(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    """CONTRACT §4: After Action scheduled 30 h after close, default 24 h interval → level 1 only."""
    runtime = RemindersRuntime(settings_for(nats_url, data_dir, interval="PT24H"))
    close = datetime.now(UTC).replace(microsecond=0) - timedelta(days=20)
    declared = close - timedelta(hours=3)
    meeting = close + timedelta(days=4)
    held = meeting
    published = close + timedelta(days=5)
    history = [
        event(
            "incident.declared", declared, incident=unique_id, title="Checkout latency", severity="critical"
        ),
        *people(unique_id, declared),
        event("incident.resolved", declared + timedelta(hours=1), incident=unique_id),
        event("incident.closed", close, incident=unique_id),
        event(
            "afteraction.scheduled", close + timedelta(hours=30), incident=unique_id, meeting_at=iso(meeting)
        ),
        event("afteraction.draft_distributed", meeting - timedelta(days=3), incident=unique_id),
        event("afteraction.held", held, incident=unique_id),
        event("review.published", published, incident=unique_id),
    ]
    final = decision(
        unique_id,
        revision=7,
        severity="critical",
        closed_at=close,
        schedule_by=close + timedelta(hours=24),
        hold_by=close + timedelta(days=7),
        draft_due=meeting - timedelta(hours=48),
        publish_by=held + timedelta(hours=48),
        action_review_at=published + timedelta(days=30),
    )
    final["declared_at"] = iso(declared)
    final["resolved_at"] = iso(declared + timedelta(hours=1))
    await runtime.start()
    try:
        # One burst, pipelined: the decision is on its (idle) stream while the events queue up.
        acks = [
            await js.publish_async(
                subjects.event_subject(unique_id, body["type"]),
                json.dumps(body).encode(),
                headers={"Nats-Msg-Id": body["id"]},
            )
            for body in history
        ]
        acks.append(
            await js.publish_async(
                subjects.decision_subject(unique_id),
                json.dumps(final).encode(),
                headers={"Nats-Msg-Id": f"{unique_id}:7"},
            )
        )
        await asyncio.gather(*acks)
        seen = await eventually(lambda: escalations_of(js, unique_id), lambda got: len(got) >= 1, "level 1")
        seen, heads_up = await notices_once_settled(js, unique_id)
    finally:
        await runtime.stop()
    assert [s.msg_id for s in seen] == [f"{unique_id}:after_action_not_scheduled:1"]
    assert seen[0].body["notify"] == {"role": "mim", "person": "Dana Reyes"}
    assert heads_up == []
