"""Reports against a real nats-server, through its HTTP API: what someone reading, editing,
tracking and publishing a Learning Review would notice.

Every test of the session shares one nats-server and the reports durables, so each test uses its
own incident ids (and only looks at those in lists) and polls with a deadline instead of sleeping.
"Now" is fixed by the app's injected clock, so "overdue" means the same on any day.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.client import Client
from nats.aio.msg import Msg

from majorops.reports.adapters.jetstream import JetStreamEventPublisher
from majorops.reports.bootstrap import create_app
from majorops.reports.config import ReportsSettings
from majorops.shared import subjects, testing
from majorops.shared.testing import (
    TOKEN_SETTINGS,
    WRITE_TOKEN,
    bearer,
    connected_jetstream,
    consumed_messages,
    contract_decision,
    eventually,
)
from majorops.shared.testkit import connected_nats

T = TypeVar("T")
POLL_DEADLINE_SECONDS = 15.0
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"


def reports_app(nats_url: str, data_dir: Path) -> FastAPI:
    settings = ReportsSettings(
        **TOKEN_SETTINGS,
        nats_url=nats_url,
        data_dir=data_dir,
        retry_delay_seconds=0.1,
        assemble_delay_seconds=0.01,
    )
    return create_app(settings, clock=lambda: NOW)


@pytest.fixture
async def app(nats_url: str, data_dir: Path) -> AsyncIterator[FastAPI]:
    app = reports_app(nats_url, data_dir)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        headers=bearer(WRITE_TOKEN), transport=transport, base_url="http://reports"
    ) as http:
        yield http


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    async with connected_nats(nats_url) as connection:
        yield connection


def envelope(incident: str, event_id: str, type_: str, time_: str, **data: Any) -> dict[str, Any]:
    return testing.event_envelope(incident, event_id, f"majorops.{type_}", time_, data)


async def publish_event(nc: Client, event: dict[str, Any]) -> None:
    """What ingest does with an accepted event."""
    await testing.publish_event(nc.jetstream(), event)


async def publish_decision(nc: Client, incident: str, revision: int, requirement: str) -> None:
    decision = contract_decision(incident, revision, requirement)
    if requirement != "mandatory":
        decision["reasons"] = []
    await send_decision(nc, decision)


async def poll_review(
    client: httpx.AsyncClient, incident: str, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """GET the review until ``until`` holds for it, or fail with the last answer at the deadline."""

    async def answer() -> tuple[int, Any]:
        resp = await client.get(f"/v1/reviews/{incident}")
        return resp.status_code, resp.json()

    _, review = await poll(answer, lambda got: got[0] == 200 and until(got[1]), f"review of {incident}")
    return dict(review)


async def dead_letters(nats_url: str, for_subject: str) -> list[dict[str, Any]]:
    """The reports dead letters of one original subject, read through an ephemeral consumer."""
    async with connected_jetstream(nats_url) as js:
        return [
            letter for letter in await testing.dead_letters(js, "reports") if letter["subject"] == for_subject
        ]


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
        "regulatory_exposure": None,
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
    await declare(nc, unique_id, title="Slow", severity="low")
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
    await declare(nc, unique_id, title="After poison", severity="high")
    review = await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)
    assert review["summary"]["title"] == "After poison"

    letters = await poll(lambda: dead_letters(nats_url, poison_subject), bool, "a dead letter")
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
    letters = await poll(lambda: dead_letters(nats_url, subject), bool, "a dead letter")
    assert len(letters) == 1
    assert reason in letters[0]["reason"]
    # Nothing of it reached the review.
    assert (await client.get(f"/v1/reviews/{unique_id}")).status_code == 404


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"nats": True, "streams": True, "durables": True, "loops": True, "store": True},
    }


async def test_the_review_survives_a_restart_of_reports(
    nats_url: str, nc: Client, data_dir: Path, unique_id: str
) -> None:
    settings = ReportsSettings(**TOKEN_SETTINGS, nats_url=nats_url, data_dir=data_dir)
    event = envelope(unique_id, f"{unique_id}-c", "incident.confirmed", "2026-11-20T09:09:00Z")
    for attempt in range(2):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                headers=bearer(WRITE_TOKEN), transport=httpx.ASGITransport(app=app), base_url="http://r"
            ) as http:
                if attempt == 0:
                    await publish_event(nc, event)
                    await poll_review(http, unique_id, lambda r: len(r["timeline"]) == 1)
                else:
                    # Read straight from the embedded store written before the restart.
                    review = (await http.get(f"/v1/reviews/{unique_id}")).json()
                    assert [e["event_id"] for e in review["timeline"]] == [f"{unique_id}-c"]


async def test_not_ready_before_it_started(nats_url: str, data_dir: Path) -> None:
    app = create_app(ReportsSettings(**TOKEN_SETTINGS, nats_url=nats_url, data_dir=data_dir))
    async with httpx.AsyncClient(
        headers=bearer(WRITE_TOKEN), transport=httpx.ASGITransport(app=app), base_url="http://r"
    ) as http:
        resp = await http.get("/readyz")
    assert resp.status_code == 503
    assert resp.json() == {
        "status": "not ready",
        "checks": {"nats": False, "streams": False, "durables": False, "loops": True, "store": False},
    }


# --- the API: reading, listing, editing, tracking, publishing ------------------------------


async def send_decision(nc: Client, decision: dict[str, Any]) -> None:
    msg_id = f"{decision['incident_id']}:decision:{decision['revision']}"
    await testing.publish_decision(nc.jetstream(), decision, msg_id)


async def declare(
    nc: Client, incident: str, title: str = "Checkout latency", severity: str = "critical", **data: Any
) -> None:
    await publish_event(
        nc,
        envelope(
            incident,
            f"{incident}-declared",
            "incident.declared",
            "2026-11-20T09:14:00Z",
            title=title,
            severity=severity,
            **data,
        ),
    )


async def poll(fetch: Callable[[], Awaitable[T]], until: Callable[[T], bool], what: str) -> T:
    """Call ``fetch`` until ``until`` holds for its answer, or fail with the last answer."""
    return await eventually(fetch, until, what, POLL_DEADLINE_SECONDS)


async def all_pages(client: httpx.AsyncClient, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a paged list, and the number of pages it took."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = await client.get(path, params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert len(body["items"]) <= int(params.get("limit", 50))
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


async def stream_messages(nats_url: str, subject: str, count: int) -> list[Msg]:
    """The first ``count`` messages on ``subject`` in the events stream, read through an ephemeral consumer."""
    async with connected_jetstream(nats_url) as js:
        found = await poll(
            lambda: consumed_messages(js, subjects.EVENTS_STREAM, subject),
            lambda got: len(got) >= count,
            f"{count} messages on {subject}",
        )
    return found[:count]


def assert_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    body: dict[str, Any] = resp.json()
    assert (
        body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("https://")
    )
    return body


async def test_the_review_is_the_whole_learning_review_with_an_etag(
    client: httpx.AsyncClient, nc: Client, unique_id: str
) -> None:
    await declare(nc, unique_id)
    review = await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)
    for section in (*testing.LEARNING_REVIEW_KEYS, "earlier_reviews", "effectiveness"):
        assert section in review
    assert review["data_gaps"][0] == "no_alert"
    resp = await client.get(f"/v1/reviews/{unique_id}")
    etag = resp.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    # The same review, the same tag; a change, a new one.
    assert (await client.get(f"/v1/reviews/{unique_id}")).headers["etag"] == etag
    await publish_event(
        nc, envelope(unique_id, f"{unique_id}-c", "incident.confirmed", "2026-11-20T09:10:00Z")
    )
    await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 2)
    assert (await client.get(f"/v1/reviews/{unique_id}")).headers["etag"] != etag


class _Page(HTMLParser):
    """What a browser would run or fetch from a page: script elements, event handlers, sources."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.handlers: list[str] = []
        self.sources: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(name)
            if name in ("src", "href") and value and not value.startswith("/v1/reviews/"):
                self.sources.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_markdown_and_a_standalone_html_page_with_hostile_text_escaped(
    client: httpx.AsyncClient, nc: Client, unique_id: str
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    await declare(nc, unique_id, title=hostile)
    await publish_event(
        nc,
        envelope(
            unique_id, f"{unique_id}-mim", "role.assigned", "2026-11-20T09:15:00Z", role="mim", person=hostile
        ),
    )
    await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 2)

    md = await client.get(f"/v1/reviews/{unique_id}.md")
    assert md.status_code == 200
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith(f"# Learning Review — {unique_id}: ")
    assert "## 7. Action Items" in md.text and "<script>" not in md.text

    page = await client.get(f"/v1/reviews/{unique_id}.html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>")
    parsed = _Page()
    parsed.feed(page.text)
    assert parsed.scripts == 0 and parsed.handlers == [] and parsed.sources == []
    # The hostile title reads as the characters it is.
    assert hostile in "".join(parsed.text)
    assert "&lt;script&gt;" in page.text

    for suffix in (".md", ".html"):
        assert_problem(await client.get(f"/v1/reviews/T-never-seen-0000{suffix}"), 404)


async def test_reviews_are_listed_filtered_and_paged(
    client: httpx.AsyncClient, nc: Client, unique_id: str
) -> None:
    incidents = [f"{unique_id}-{n}" for n in range(5)]
    for incident in incidents:
        await declare(nc, incident, title=f"Incident {incident[-1]}")
    deadlines = {
        "schedule_by": None,
        "hold_by": None,
        "draft_due": None,
        "publish_by": None,
        "action_review_at": None,
    }
    # 0: mandatory, overdue (schedule_by passed); 1: mandatory, not yet due; 2: optional; 3: published.
    for incident, requirement, schedule_by in (
        (incidents[0], "mandatory", "2026-11-21T12:00:00Z"),
        (incidents[1], "mandatory", "2026-12-01T12:00:00Z"),
        (incidents[2], "optional", "2026-11-21T12:00:00Z"),
    ):
        decision = {"incident_id": incident, "revision": 1, "requirement": requirement}
        await send_decision(nc, decision | {"deadlines": deadlines | {"schedule_by": schedule_by}})
    await publish_event(
        nc, envelope(incidents[3], f"{incidents[3]}-pub", "review.published", "2026-11-25T10:00:00Z")
    )

    async def mine(**params: Any) -> list[str]:
        items, _ = await all_pages(client, "/v1/reviews", limit=200, **params)
        return [i["incident_id"][-1] for i in items if i["incident_id"].startswith(unique_id)]

    listed = await poll(
        lambda: all_pages(client, "/v1/reviews", limit=200),
        lambda r: (
            sum(
                1
                for i in r[0]
                if i["incident_id"].startswith(unique_id) and (i["requirement"] or i["status"] == "published")
            )
            == 4
            and sum(1 for i in r[0] if i["incident_id"].startswith(unique_id)) == 5
        ),
        "the list",
    )
    first = next(i for i in listed[0] if i["incident_id"] == incidents[0])
    assert first == {
        "incident_id": incidents[0],
        "title": "Incident 0",
        "severity": "critical",
        "requirement": "mandatory",
        "status": "draft",
        "next_deadline": "2026-11-21T12:00:00Z",
        "overdue": True,
        "next_deadline_name": "schedule_by",
        "escalation_level": 0,
        "escalations_fired": 0,
        "updated_at": "2026-11-27T12:00:00Z",
    }
    assert await mine() == ["0", "1", "2", "3", "4"]
    assert await mine(status="published") == ["3"]
    assert await mine(requirement="mandatory") == ["0", "1"]
    assert await mine(requirement="optional", status="draft") == ["2"]
    # Schedule/hold deadlines bind a mandatory After Action only: incident 2 is not overdue.
    assert await mine(overdue="true") == ["0"]
    assert await mine(overdue="false") == ["1", "2", "3", "4"]

    items, pages = await all_pages(client, "/v1/reviews", limit=2)
    ids = [i["incident_id"] for i in items]
    assert len(ids) == len(set(ids)) and pages >= 3
    assert [i for i in ids if i.startswith(unique_id)] == incidents

    for params, field in [
        ({"status": "archived"}, "status"),
        ({"requirement": "maybe"}, "requirement"),
        ({"overdue": "sometimes"}, "overdue"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
    ]:
        body = assert_problem(await client.get("/v1/reviews", params=params), 422)
        assert [e["field"] for e in body["errors"]] == [field], body


async def test_two_editors_the_second_gets_412_and_nothing_of_theirs_lands(
    client: httpx.AsyncClient, nc: Client, unique_id: str
) -> None:
    await declare(nc, unique_id)
    await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)
    read = (await client.get(f"/v1/reviews/{unique_id}")).headers["etag"]
    edit_a = {"root_cause": "The incident was caused by pool exhaustion.", "went_well": ["Failover held"]}
    edit_b = {"went_well": ["Paging was fast"]}

    assert_problem(await client.patch(f"/v1/reviews/{unique_id}", json=edit_a), 428)
    first = await client.patch(f"/v1/reviews/{unique_id}", json=edit_a, headers={"If-Match": read})
    assert first.status_code == 200, first.text
    assert first.json()["went_well"] == ["Failover held"]
    assert first.json()["root_cause"]["text"] == edit_a["root_cause"]
    assert "lint" in first.json()
    new_tag = first.headers["etag"]
    assert new_tag != read

    second = assert_problem(
        await client.patch(f"/v1/reviews/{unique_id}", json=edit_b, headers={"If-Match": read}), 412
    )
    assert second["current_etag"] == new_tag
    current = await client.get(f"/v1/reviews/{unique_id}")
    assert current.json()["went_well"] == ["Failover held"]
    assert current.headers["etag"] == new_tag

    # The second editor re-reads and re-applies: now it lands.
    retried = await client.patch(f"/v1/reviews/{unique_id}", json=edit_b, headers={"If-Match": new_tag})
    assert retried.status_code == 200 and retried.json()["went_well"] == ["Paging was fast"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"root_cuase": "typo"}, "root_cuase"),
        ({"changes": [{"text": "Add alert", "due": "next week"}]}, "changes[0].due"),
        ({"went_well": "not a list"}, "went_well"),
        ({"learning_statements": [5]}, "learning_statements[0]"),
        ([], "(body)"),
        ({}, "(body)"),
    ],
    ids=["unknown-field", "bad-date", "not-a-list", "not-a-string", "not-an-object", "empty"],
)
async def test_a_bad_narrative_is_a_422_naming_the_field(
    client: httpx.AsyncClient, nc: Client, unique_id: str, body: Any, field: str
) -> None:
    await declare(nc, unique_id)
    await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)
    read = (await client.get(f"/v1/reviews/{unique_id}")).headers["etag"]
    problem = assert_problem(
        await client.patch(f"/v1/reviews/{unique_id}", json=body, headers={"If-Match": read}), 422
    )
    assert field in [e["field"] for e in problem["errors"]]
    assert (await client.get(f"/v1/reviews/{unique_id}")).headers["etag"] == read


async def test_a_body_that_is_not_json_is_a_400(
    client: httpx.AsyncClient, nc: Client, unique_id: str
) -> None:
    await declare(nc, unique_id)
    await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)
    resp = await client.patch(
        f"/v1/reviews/{unique_id}",
        content=b"{root_cause:",
        headers={"If-Match": "*", "content-type": "application/json"},
    )
    assert_problem(resp, 400)


async def test_publish_is_refused_with_the_blocking_findings_then_accepted_once_fixed(
    client: httpx.AsyncClient, nc: Client, nats_url: str, unique_id: str
) -> None:
    await declare(nc, unique_id)
    await publish_event(
        nc,
        envelope(
            unique_id,
            f"{unique_id}-mim",
            "role.assigned",
            "2026-11-20T09:15:00Z",
            role="mim",
            person="Dana Reyes",
        ),
    )
    await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 2)
    tag = (await client.get(f"/v1/reviews/{unique_id}")).headers["etag"]
    blamed = await client.patch(
        f"/v1/reviews/{unique_id}",
        json={
            "root_cause": "Dana Reyes restarted the wrong pool.",
            "changes": [{"text": "Add a pool alert"}],
        },
        headers={"If-Match": tag},
    )
    assert [f["code"] for f in blamed.json()["lint"] if f["severity"] == "error"] == [
        "name_in_root_cause",
        "change_missing_owner_or_date",
    ]

    refused = assert_problem(await client.post(f"/v1/reviews/{unique_id}/publish"), 409)
    assert [f["code"] for f in refused["findings"]] == ["name_in_root_cause", "change_missing_owner_or_date"]
    assert "Dana Reyes" in refused["findings"][0]["message"]
    assert (await client.get(f"/v1/reviews/{unique_id}")).json()["status"] == "draft"

    fixed = await client.patch(
        f"/v1/reviews/{unique_id}",
        json={
            "root_cause": "The incident was caused by a pool restart script that targets every pool.",
            "changes": [{"text": "Add a pool alert", "owner": "SRE lead", "due": "2026-12-01"}],
        },
        headers={"If-Match": blamed.headers["etag"]},
    )
    assert fixed.status_code == 200 and not [f for f in fixed.json()["lint"] if f["severity"] == "error"]
    accepted = await client.post(f"/v1/reviews/{unique_id}/publish")
    assert accepted.status_code == 202, accepted.text
    event_id = accepted.json()["event_id"]
    review = (await client.get(f"/v1/reviews/{unique_id}")).json()
    assert review["status"] == "published" and review["published_at"] == "2026-11-27T12:00:00Z"

    (msg,) = await stream_messages(
        nats_url, subjects.event_subject(unique_id, "majorops.review.published"), 1
    )
    assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == event_id
    published = json.loads(msg.data)
    assert (published["type"], published["source"], published["subject"]) == (
        "majorops.review.published",
        "majorops/reports",
        unique_id,
    )
    again = await client.post(f"/v1/reviews/{unique_id}/publish")
    assert again.status_code == 200 and again.json()["event_id"] == event_id
    assert_problem(await client.post("/v1/reviews/T-never-seen-0000/publish"), 404)


async def test_action_items_round_trip_through_jetstream(
    client: httpx.AsyncClient, nc: Client, nats_url: str, unique_id: str
) -> None:
    await declare(nc, unique_id)
    await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)

    created = await client.post(
        f"/v1/reviews/{unique_id}/action-items",
        json={"title": "Add a pool alert", "owner": "SRE lead", "due": "2026-11-25"},
    )
    assert created.status_code == 202, created.text
    item = created.json()["item"]
    item_id = item["item_id"]
    assert item_id.startswith("AI-")
    assert item == {
        "item_id": item_id,
        "title": "Add a pool alert",
        "owner": "SRE lead",
        "due": "2026-11-25",
        "status": "open",
        "completed_at": None,
    }

    (msg,) = await stream_messages(
        nats_url, subjects.event_subject(unique_id, "majorops.actionitem.created"), 1
    )
    assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == created.json()["event_id"]
    assert json.loads(msg.data)["data"] == {
        "item_id": item_id,
        "title": "Add a pool alert",
        "owner": "SRE lead",
        "due": "2026-11-25",
    }

    review = await poll_review(client, unique_id, lambda r: len(r["action_items"]) == 1)
    assert review["action_items"][0]["title"] == "Add a pool alert"
    overdue = await poll(
        lambda: client.get("/v1/action-items", params={"open": "true", "overdue": "true", "limit": 500}),
        lambda r: any(i["item_id"] == item_id for i in r.json()["items"]),
        "the overdue list",
    )
    listed = next(i for i in overdue.json()["items"] if i["item_id"] == item_id)
    assert listed == {"incident_id": unique_id, **item, "overdue": True}

    changed = await client.patch(
        f"/v1/reviews/{unique_id}/action-items/{item_id}", json={"due": "2026-12-15"}
    )
    assert changed.status_code == 202 and changed.json()["item"]["due"] == "2026-12-15"
    done = await client.post(f"/v1/reviews/{unique_id}/action-items/{item_id}/complete")
    assert done.status_code == 202 and done.json()["item"]["status"] == "completed"
    messages = await stream_messages(nats_url, f"{subjects.EVENTS_ROOT}.{unique_id}.actionitem.>", 3)
    assert [m.subject.rsplit(".", 1)[1] for m in messages] == ["created", "updated", "completed"]

    review = await poll_review(client, unique_id, lambda r: r["action_items"][0]["status"] == "completed")
    assert review["action_items"][0]["due"] == "2026-12-15"
    completed, _ = await all_pages(client, "/v1/action-items", open="false", limit=500)
    assert [(i["item_id"], i["completed_at"]) for i in completed if i["incident_id"] == unique_id] == [
        (item_id, "2026-11-27T12:00:00Z")
    ]
    still_open, _ = await all_pages(client, "/v1/action-items", open="true", limit=500)
    assert all(i["incident_id"] != unique_id for i in still_open)
    assert_problem(await client.post(f"/v1/reviews/{unique_id}/action-items/{item_id}/complete"), 409)


async def test_action_items_from_a_ticketing_system_are_consumed_and_listed(
    client: httpx.AsyncClient, nc: Client, unique_id: str
) -> None:
    for n, due in enumerate(["2026-11-01", "2027-01-01", "2026-11-02"]):
        await publish_event(
            nc,
            envelope(
                unique_id,
                f"{unique_id}-ai{n}",
                "actionitem.created",
                "2026-11-20T12:00:00Z",
                item_id=f"T-{n}",
                title=f"Ticket {n}",
                owner="SRE lead",
                due=due,
            ),
        )
    await poll(
        lambda: all_pages(client, "/v1/action-items", limit=500),
        lambda r: len([i for i in r[0] if i["incident_id"] == unique_id]) == 3,
        "the action items",
    )
    items, pages = await all_pages(client, "/v1/action-items", overdue="true", limit=1)
    assert [i["item_id"] for i in items if i["incident_id"] == unique_id] == ["T-0", "T-2"]
    assert pages >= 2
    assert_problem(await client.get("/v1/action-items", params={"cursor": "WyJvbmx5LW9uZSJd"}), 422)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"owner": "SRE lead"}, "title"),
        ({"title": "  "}, "title"),
        ({"title": "x", "due": "tomorrow"}, "due"),
        ({"title": "x", "owner": 5}, "owner"),
        ({"title": "x", "item_id": "has space"}, "item_id"),
        ({"title": "x", "ownr": "typo"}, "ownr"),
    ],
    ids=["no-title", "blank-title", "bad-due", "owner-not-text", "bad-id", "unknown-field"],
)
async def test_a_bad_action_item_is_a_422_naming_the_field_and_publishes_nothing(
    client: httpx.AsyncClient, nc: Client, nats_url: str, unique_id: str, body: dict[str, Any], field: str
) -> None:
    await declare(nc, unique_id)
    await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)
    problem = assert_problem(await client.post(f"/v1/reviews/{unique_id}/action-items", json=body), 422)
    assert field in [e["field"] for e in problem["errors"]], problem
    assert (await client.get(f"/v1/reviews/{unique_id}")).json()["action_items"] == []


async def test_unknown_incidents_and_items_are_404_problems(
    client: httpx.AsyncClient, nc: Client, unique_id: str
) -> None:
    assert_problem(await client.post("/v1/reviews/T-never-seen-0000/action-items", json={"title": "x"}), 404)
    await declare(nc, unique_id)
    await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)
    assert_problem(
        await client.patch(f"/v1/reviews/{unique_id}/action-items/AI-nope", json={"owner": "x"}), 404
    )
    assert_problem(await client.post(f"/v1/reviews/{unique_id}/action-items/AI-nope/complete"), 404)
    assert_problem(
        await client.patch(f"/v1/reviews/{unique_id}/action-items/AI-nope", json={"title": None}), 422
    )
    assert_problem(await client.get("/v1/no-such-thing"), 404)
    assert_problem(await client.delete(f"/v1/reviews/{unique_id}"), 405)


async def test_an_unacknowledged_publish_is_a_503_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, nc: Client, nats_url: str, unique_id: str
) -> None:
    await declare(nc, unique_id)
    await poll_review(client, unique_id, lambda r: len(r["timeline"]) == 1)
    before = (await client.get(f"/v1/reviews/{unique_id}")).headers["etag"]
    # JetStream stops answering: the connection reports publishes through is gone.
    runtime = app.state.runtime
    gone = await nats.connect(nats_url)
    await gone.close()
    runtime.ports = dataclasses.replace(runtime.ports, publisher=JetStreamEventPublisher(gone.jetstream()))
    refused = assert_problem(
        await client.post(f"/v1/reviews/{unique_id}/action-items", json={"title": "Add alert"}), 503
    )
    assert "not acknowledged" in refused["detail"]
    assert_problem(await client.post(f"/v1/reviews/{unique_id}/publish"), 503)
    after = await client.get(f"/v1/reviews/{unique_id}")
    assert after.headers["etag"] == before and after.json()["action_items"] == []


async def test_openapi_lists_every_path(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {
        "/v1/reviews",
        "/v1/reviews/{incident_id}",
        "/v1/reviews/{incident_id}.md",
        "/v1/reviews/{incident_id}.html",
        "/v1/reviews/{incident_id}/invite.ics",
        "/v1/reviews/{incident_id}/publish",
        "/v1/reviews/{incident_id}/action-items",
        "/v1/reviews/{incident_id}/action-items/{item_id}",
        "/v1/reviews/{incident_id}/action-items/{item_id}/complete",
        "/v1/action-items",
        "/healthz",
        "/readyz",
    } <= set(spec["paths"])
    assert set(spec["paths"]["/v1/reviews/{incident_id}"]) == {"get", "patch"}
    assert "412" in spec["paths"]["/v1/reviews/{incident_id}"]["patch"]["responses"]


async def test_a_repeat_links_the_earlier_review_and_a_recurring_alert_flags_an_action(
    client: httpx.AsyncClient, nc: Client, unique_id: str
) -> None:
    earlier, repeat, later = f"{unique_id}-a", f"{unique_id}-b", f"{unique_id}-c"
    alert = {"alert_name": f"DbPool-{unique_id}", "service": "checkout"}
    await publish_event(nc, envelope(earlier, f"{earlier}-f", "alert.fired", "2026-10-01T09:00:00Z", **alert))
    await declare(nc, earlier, title="Checkout slow")
    for n, title in enumerate(["Raise the pool", "Pool runbook"]):
        await publish_event(
            nc,
            envelope(
                earlier,
                f"{earlier}-ai{n}",
                "actionitem.created",
                "2026-10-01T11:00:00Z",
                item_id=f"AI-{n}",
                title=title,
                owner="DBA lead",
                due="2026-10-20",
            ),
        )
    await publish_event(nc, envelope(earlier, f"{earlier}-pub", "review.published", "2026-10-03T10:00:00Z"))
    await publish_event(
        nc,
        envelope(earlier, f"{earlier}-done", "actionitem.completed", "2026-10-05T10:00:00Z", item_id="AI-0"),
    )
    await declare(nc, repeat, title="Checkout down again")
    await send_decision(
        nc, {"incident_id": repeat, "revision": 1, "requirement": "mandatory", "repeat_of": [earlier]}
    )
    # The same alert, same service, 10 days after AI-0 was completed, in a third incident.
    await publish_event(nc, envelope(later, f"{later}-f", "alert.fired", "2026-10-15T10:00:00Z", **alert))

    linked = await poll_review(
        client,
        repeat,
        lambda r: (
            bool(r["earlier_reviews"])
            and r["earlier_reviews"][0]["status"] == "published"
            # Events are consumed concurrently: wait until AI-0's completion is in too.
            and [i["item_id"] for i in r["earlier_reviews"][0]["open_action_items"]] == ["AI-1"]
        ),
    )
    (link,) = linked["earlier_reviews"]
    assert (link["incident_id"], link["title"], link["link"]) == (
        earlier,
        "Checkout slow",
        f"/v1/reviews/{earlier}",
    )
    assert [i["item_id"] for i in link["open_action_items"]] == ["AI-1"]
    assert "Earlier incidents with the same root cause" in (await client.get(f"/v1/reviews/{repeat}.md")).text

    flagged = await poll_review(client, earlier, lambda r: bool(r["effectiveness"]))
    (finding,) = flagged["effectiveness"]
    assert (finding["item_id"], finding["recurred_in"], finding["recurred_at"]) == (
        "AI-0",
        later,
        "2026-10-15T10:00:00Z",
    )
    assert "Action effectiveness" in (await client.get(f"/v1/reviews/{earlier}.md")).text
