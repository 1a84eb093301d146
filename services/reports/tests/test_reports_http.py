"""Reports against a real nats-server: what someone reading a Learning Review would notice.

Every test of the session shares one nats-server and the reports durables, so each test uses its
own incident id and polls with a deadline instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from majorops.reports.app import create_app
from majorops.reports.config import ReportsSettings
from majorops.shared import subjects
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, DeliverPolicy

POLL_DEADLINE_SECONDS = 15.0


@pytest.fixture
async def client(nats_url: str, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ReportsSettings(nats_url=nats_url, data_dir=data_dir, retry_delay_seconds=0.1))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reports") as http:
            yield http


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    connection = await nats.connect(nats_url)
    try:
        yield connection
    finally:
        await connection.drain()


def envelope(incident: str, event_id: str, type_: str, time_: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "pagerduty/prod",
        "type": f"majorops.{type_}",
        "time": time_,
        "subject": incident,
        "data": data,
    }


async def publish_event(nc: Client, event: dict[str, Any]) -> None:
    """What ingest does with an accepted event."""
    subject = subjects.event_subject(event["subject"], event["type"])
    await nc.jetstream().publish(subject, json.dumps(event).encode(), headers={"Nats-Msg-Id": event["id"]})


async def publish_decision(nc: Client, incident: str, revision: int, requirement: str) -> None:
    decision = {
        "incident_id": incident,
        "revision": revision,
        "requirement": requirement,
        "reasons": [{"rule": "critical_any_duration", "text": "Critical (P1) incident"}]
        if requirement == "mandatory"
        else [],
        "severity": "critical",
        "duration_seconds": 8100,
        "customer_impact": True,
        "repeat_of": [],
        "closed_at": "2026-11-20T12:00:00Z",
        "deadlines": {
            "schedule_by": "2026-11-21T12:00:00Z",
            "hold_by": "2026-11-27T12:00:00Z",
            "draft_due": None,
            "publish_by": None,
            "action_review_at": None,
        },
    }
    await nc.jetstream().publish(
        subjects.decision_subject(incident),
        json.dumps(decision).encode(),
        headers={"Nats-Msg-Id": f"{incident}:decision:{revision}"},
    )


async def poll_review(
    client: httpx.AsyncClient, incident: str, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """GET the review until ``until`` holds for it, or fail with the last answer at the deadline."""
    deadline = time.monotonic() + POLL_DEADLINE_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        resp = await client.get(f"/v1/reviews/{incident}")
        last = resp.json()
        if resp.status_code == 200 and until(last):
            return dict(last)
        await asyncio.sleep(0.05)
    pytest.fail(f"review of {incident} never matched; last answer: {last}")


async def dead_letters(nats_url: str, for_subject: str) -> list[dict[str, Any]]:
    """The reports dead letters of one original subject, read through an ephemeral consumer."""
    connection = await nats.connect(nats_url)
    try:
        sub = await connection.jetstream().pull_subscribe(
            subjects.deadletter_subject("reports"),
            stream=subjects.DEADLETTER_STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=5),
        )
        letters: list[dict[str, Any]] = []
        try:
            while True:
                for msg in await sub.fetch(100, timeout=0.5):
                    letter = json.loads(msg.data)
                    if letter["subject"] == for_subject:
                        letters.append(letter)
                    await msg.ack()
        except nats.errors.TimeoutError:
            pass
        await sub.unsubscribe()
        return letters
    finally:
        await connection.drain()


async def test_review_shows_the_incident_from_its_events_decision_and_escalations(
    client: httpx.AsyncClient, nc: Client, unique_id: str
) -> None:
    inc = unique_id
    # Published out of time order, as late events arrive.
    events = [
        envelope(
            inc,
            f"{inc}-declared",
            "incident.declared",
            "2026-11-20T09:14:00Z",
            title="Checkout latency",
            severity="P1",
            affected_users=1200,
            revenue_exposure=50000,
            sla_status="breached",
            customer_impact=True,
        ),
        envelope(
            inc, f"{inc}-alert", "alert.fired", "2026-11-20T09:02:00Z", alert_name="CheckoutLatencyHigh"
        ),
        envelope(inc, f"{inc}-mim", "role.assigned", "2026-11-20T09:15:00Z", role="mim", person="Dana Reyes"),
        envelope(
            inc, f"{inc}-track", "track.opened", "2026-11-20T09:20:00Z", track="database", lead="Priya Nair"
        ),
        envelope(inc, f"{inc}-retitled", "incident.updated", "2026-11-20T09:40:00Z", title="Checkout down"),
        envelope(inc, f"{inc}-resolved", "incident.resolved", "2026-11-20T11:17:00Z"),
        envelope(inc, f"{inc}-closed", "incident.closed", "2026-11-20T12:00:00Z"),
    ]
    for event in events:
        await publish_event(nc, event)
    await publish_event(nc, events[0])  # redelivered by a retrying sender: shows once
    await publish_decision(nc, inc, 2, "mandatory")
    await publish_decision(nc, inc, 1, "not_required")  # late, older revision: ignored
    escalation = {
        "escalation_id": f"{inc}:after_action_not_scheduled:1",
        "incident_id": inc,
        "kind": "after_action_not_scheduled",
        "level": 1,
        "due_at": "2026-11-21T12:00:00Z",
        "fired_at": "2026-11-21T12:00:03Z",
        "notify": {"role": "mim", "person": "Dana Reyes"},
        "message": f"After Action for {inc} not scheduled within 24 h of close",
    }
    await nc.jetstream().publish(
        subjects.escalation_subject(inc, "after_action_not_scheduled"),
        json.dumps(escalation).encode(),
        headers={"Nats-Msg-Id": escalation["escalation_id"]},
    )

    review = await poll_review(
        client,
        inc,
        lambda r: (
            len(r["timeline"]) == len(events)
            and r["after_action"]["requirement"] is not None
            and len(r["escalations"]) == 1
        ),
    )
    assert review["incident_id"] == inc
    assert review["status"] == "draft"
    assert review["summary"] == {
        "title": "Checkout down",
        "severity": "critical",
        "duration_seconds": 8100,
        "customer_impact": True,
        "affected_users": 1200,
        "revenue_exposure": 50000,
        "sla_status": "breached",
        "mim": "Dana Reyes",
        "responders": ["Dana Reyes", "Priya Nair"],
    }
    assert [(e["at"], e["type"]) for e in review["timeline"]] == [
        ("2026-11-20T09:02:00Z", "alert.fired"),
        ("2026-11-20T09:14:00Z", "incident.declared"),
        ("2026-11-20T09:15:00Z", "role.assigned"),
        ("2026-11-20T09:20:00Z", "track.opened"),
        ("2026-11-20T09:40:00Z", "incident.updated"),
        ("2026-11-20T11:17:00Z", "incident.resolved"),
        ("2026-11-20T12:00:00Z", "incident.closed"),
    ]
    assert review["timeline"][2]["text"] == "Dana Reyes assigned as mim"
    assert review["timeline"][1]["event_id"] == f"{inc}-declared"
    assert review["after_action"]["requirement"] == "mandatory"
    assert review["after_action"]["reasons"][0]["rule"] == "critical_any_duration"
    assert review["after_action"]["deadlines"]["schedule_by"] == "2026-11-21T12:00:00Z"
    assert [(e["kind"], e["level"], e["fired_at"]) for e in review["escalations"]] == [
        ("after_action_not_scheduled", 1, "2026-11-21T12:00:03Z")
    ]

    await publish_event(nc, envelope(inc, f"{inc}-published", "review.published", "2026-11-26T10:00:00Z"))
    published = await poll_review(client, inc, lambda r: r["status"] == "published")
    assert published["timeline"][-1]["type"] == "review.published"


async def test_an_incident_without_a_decision_shows_null_after_action(
    client: httpx.AsyncClient, nc: Client, unique_id: str
) -> None:
    await publish_event(
        nc,
        envelope(
            unique_id,
            f"{unique_id}-d",
            "incident.declared",
            "2026-11-20T09:14:00Z",
            title="Slow",
            severity="low",
        ),
    )
    review = await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)
    assert review["after_action"]["requirement"] is None
    assert set(review["after_action"]["deadlines"].values()) == {None}
    assert review["escalations"] == []
    assert review["summary"]["duration_seconds"] is None


@pytest.mark.parametrize("incident", ["T-never-seen-0000", "not an id", "a.b"])
async def test_unknown_incident_is_a_problem_404(client: httpx.AsyncClient, incident: str) -> None:
    resp = await client.get(f"/v1/reviews/{incident}")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["status"] == 404


async def test_a_body_that_is_not_json_is_dead_lettered_and_does_not_block_later_events(
    client: httpx.AsyncClient, nc: Client, nats_url: str, unique_id: str
) -> None:
    poison_subject = subjects.event_subject(unique_id, "majorops.incident.declared")
    await nc.jetstream().publish(
        poison_subject, b"{this is not json", headers={"Nats-Msg-Id": f"{unique_id}-p"}
    )
    await publish_event(
        nc,
        envelope(
            unique_id,
            f"{unique_id}-ok",
            "incident.declared",
            "2026-11-20T09:14:00Z",
            title="After poison",
            severity="high",
        ),
    )
    review = await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)
    assert review["summary"]["title"] == "After poison"

    deadline = time.monotonic() + POLL_DEADLINE_SECONDS
    letters: list[dict[str, Any]] = []
    while not letters and time.monotonic() < deadline:
        letters = await dead_letters(nats_url, poison_subject)
    assert len(letters) == 1
    assert "not JSON" in letters[0]["reason"]
    assert letters[0]["payload"] == "{this is not json"
    assert letters[0]["stream"] == subjects.EVENTS_STREAM


@pytest.mark.parametrize(
    ("subject_of", "body", "reason"),
    [
        (
            lambda inc: subjects.event_subject(inc, "majorops.incident.declared"),
            lambda inc: envelope(
                inc, f"{inc}-bad", "incident.declared", "yesterday", title="x", severity="P1"
            ),
            "invalid event envelope",
        ),
        (
            subjects.decision_subject,
            lambda inc: {"incident_id": inc, "revision": 0, "requirement": "maybe"},
            "invalid After Action decision",
        ),
        (
            lambda inc: subjects.escalation_subject(inc, "mtm_recommended"),
            lambda inc: {"escalation_id": f"{inc}:mtm_recommended:1", "incident_id": inc},
            "invalid escalation",
        ),
    ],
    ids=["event", "decision", "escalation"],
)
async def test_invalid_payloads_are_dead_lettered_with_the_reason(
    client: httpx.AsyncClient,
    nc: Client,
    nats_url: str,
    unique_id: str,
    subject_of: Callable[[str], str],
    body: Callable[[str], dict[str, Any]],
    reason: str,
) -> None:
    subject = subject_of(unique_id)
    await nc.jetstream().publish(subject, json.dumps(body(unique_id)).encode())
    deadline = time.monotonic() + POLL_DEADLINE_SECONDS
    letters: list[dict[str, Any]] = []
    while not letters and time.monotonic() < deadline:
        letters = await dead_letters(nats_url, subject)
    assert len(letters) == 1
    assert reason in letters[0]["reason"]
    # Nothing of it reached the review.
    assert (await client.get(f"/v1/reviews/{unique_id}")).status_code == 404


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"nats": True, "streams": True, "store": True}}


async def test_the_review_survives_a_restart_of_reports(
    nats_url: str, nc: Client, data_dir: Path, unique_id: str
) -> None:
    settings = ReportsSettings(nats_url=nats_url, data_dir=data_dir)
    event = envelope(unique_id, f"{unique_id}-c", "incident.confirmed", "2026-11-20T09:09:00Z")
    for attempt in range(2):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as http:
                if attempt == 0:
                    await publish_event(nc, event)
                    await poll_review(http, unique_id, lambda r: len(r["timeline"]) == 1)
                else:
                    # Read straight from the embedded store written before the restart.
                    review = (await http.get(f"/v1/reviews/{unique_id}")).json()
                    assert [e["event_id"] for e in review["timeline"]] == [f"{unique_id}-c"]


async def test_not_ready_before_it_started(nats_url: str, data_dir: Path) -> None:
    app = create_app(ReportsSettings(nats_url=nats_url, data_dir=data_dir))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as http:
        resp = await http.get("/readyz")
    assert resp.status_code == 503
    assert resp.json() == {"status": "not ready", "checks": {"nats": False, "streams": False, "store": False}}
