"""Who may read and who may change a Learning Review, against the real reports app and nats-server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from majorops.reports.bootstrap import CONSUMED_STREAMS, create_app
from majorops.reports.config import ReportsSettings
from majorops.shared import subjects
from majorops.shared.testing import (
    READ_TOKEN,
    TOKEN_SETTINGS,
    WRITE_TOKEN,
    bearer,
    connected_jetstream,
    consumed_messages,
    consumers_settled,
    event_envelope,
    eventually,
    publish_event,
    service_durables,
)

PROBLEM = "application/problem+json"


@pytest.fixture
async def app(nats_url: str, data_dir: Path) -> AsyncIterator[FastAPI]:
    app = create_app(
        ReportsSettings(**TOKEN_SETTINGS, nats_url=nats_url, data_dir=data_dir, assemble_delay_seconds=0.01)
    )
    async with app.router.lifespan_context(app):
        # The session's first reports runtime may find other tests' events waiting: let it catch up.
        async with connected_jetstream(nats_url) as js:
            durables = service_durables("reports", *CONSUMED_STREAMS)
            await consumers_settled(js, durables, "reports consumers settled", timeout=120)
        yield app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reports") as client:
        yield client


async def declared(http: httpx.AsyncClient, nats_url: str, incident: str) -> httpx.Response:
    data = {"title": "Checkout latency", "severity": "critical"}
    async with connected_jetstream(nats_url) as js:
        event = event_envelope(
            incident, f"{incident}-d", "majorops.incident.declared", "2026-11-20T09:14:00Z", data
        )
        await publish_event(js, event)

    async def fetch() -> httpx.Response:
        return await http.get(f"/v1/reviews/{incident}", headers=bearer(READ_TOKEN))

    return await eventually(fetch, lambda r: r.status_code == 200, "the review", 15.0)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/reviews"),
        ("GET", "/v1/reviews/INC-1"),
        ("GET", "/v1/reviews/INC-1.md"),
        ("GET", "/v1/reviews/INC-1.html"),
        ("GET", "/v1/action-items"),
        ("PATCH", "/v1/reviews/INC-1"),
        ("POST", "/v1/reviews/INC-1/publish"),
        ("POST", "/v1/reviews/INC-1/action-items"),
        ("PATCH", "/v1/reviews/INC-1/action-items/AI-1"),
        ("POST", "/v1/reviews/INC-1/action-items/AI-1/complete"),
    ],
)
async def test_every_route_needs_a_token_and_an_unknown_one_learns_nothing(
    http: httpx.AsyncClient, method: str, path: str
) -> None:
    answers = [
        await http.request(method, path, headers=headers, content=b"{not json")
        for headers in ({}, bearer("a-token-nobody-issued-0000"), {"authorization": "Basic x"})
    ]
    for resp in answers:
        assert resp.status_code == 401
        assert resp.headers["content-type"] == PROBLEM
        assert resp.headers["www-authenticate"] == 'Bearer realm="majorops-reports"'
    # The same document whatever was sent, and nothing about the body (checked before it is read).
    assert len({resp.text for resp in answers}) == 1


async def test_a_read_token_reads_but_every_change_is_403_and_changes_nothing(
    http: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    before = await declared(http, nats_url, unique_id)
    reader = bearer(READ_TOKEN)
    assert (await http.get(f"/v1/reviews/{unique_id}.md", headers=reader)).status_code == 200
    assert (await http.get("/v1/action-items", headers=reader)).status_code == 200
    tries = [
        ("PATCH", f"/v1/reviews/{unique_id}", {"root_cause": "x"}, {"if-match": before.headers["etag"]}),
        ("POST", f"/v1/reviews/{unique_id}/publish", None, {}),
        ("POST", f"/v1/reviews/{unique_id}/action-items", {"title": "Add an alert"}, {}),
    ]
    for method, path, body, extra in tries:
        resp = await http.request(method, path, json=body, headers={**reader, **extra})
        assert resp.status_code == 403, resp.text
        assert resp.headers["content-type"] == PROBLEM
        assert "'reader' may only read" in resp.json()["detail"]
    after = (await http.get(f"/v1/reviews/{unique_id}", headers=reader)).json()
    assert after["action_items"] == [] and after["status"] == "draft"
    assert after["root_cause"] == before.json()["root_cause"]
    async with connected_jetstream(nats_url) as js:
        emitted = await consumed_messages(
            js, subjects.EVENTS_STREAM, f"majorops.events.{unique_id}.>", 5, 0.5
        )
    assert [msg.subject.rsplit(".", 2)[-2:] for msg in emitted] == [["incident", "declared"]]


async def test_a_change_records_the_write_tokens_name_in_the_event_it_emits(
    http: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    await declared(http, nats_url, unique_id)
    created = await http.post(
        f"/v1/reviews/{unique_id}/action-items",
        json={"title": "Add a pool alert"},
        headers=bearer(WRITE_TOKEN),
    )
    assert created.status_code == 202, created.text
    subject = subjects.event_subject(unique_id, "majorops.actionitem.created")
    async with connected_jetstream(nats_url) as js:
        [msg] = await consumed_messages(js, subjects.EVENTS_STREAM, subject, 5, 0.5)
    event = json.loads(msg.data)
    assert (event["authtype"], event["authid"]) == ("api_key", "editor")
    assert event["id"] == created.json()["event_id"]


async def test_probes_and_the_api_description_stay_open(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/readyz")).status_code == 200
    described = (await http.get("/openapi.json")).json()
    assert described["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert described["paths"]["/healthz"]["get"]["security"] == []


def test_reports_refuses_to_start_without_a_write_token() -> None:
    settings = ReportsSettings(
        reports_read_tokens=TOKEN_SETTINGS["reports_read_tokens"], reports_write_tokens=""
    )
    with pytest.raises(ValueError, match="MAJOROPS_REPORTS_WRITE_TOKENS is not set"):
        settings.check_at_start()
