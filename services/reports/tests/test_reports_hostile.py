"""Hostile input through the real reports app's write endpoints, against a real nats-server.

Every refusal is a precise 4xx RFC 9457 problem document naming what is wrong, changes nothing (no
event published, the review's ETag unchanged) and leaves no error or traceback in the logs. The
rules are those of docs/contract-extensions.md ("Hostile input").
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext

from majorops.reports.bootstrap import create_app
from majorops.reports.config import ReportsSettings
from majorops.reports.entrypoints.json_body_guard import MAX_BODY_BYTES
from majorops.shared import subjects
from majorops.shared.json_body import MAX_JSON_DEPTH
from majorops.shared.testing import (
    READ_TOKEN,
    TOKEN_SETTINGS,
    WRITE_TOKEN,
    bearer,
    connected_jetstream,
    consumed_messages,
    event_envelope,
    eventually,
    problem_of,
    publish_event,
    purge_incidents,
)

ITEM = "AI-hostile"
INCIDENT = f"T-{uuid.uuid4().hex[:12]}"
"""The module's incident: declared, with one action item, before the first test."""


pytestmark = pytest.mark.usefixtures("no_error_logged")


@pytest.fixture(scope="module")
async def app(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    settings = ReportsSettings(
        **TOKEN_SETTINGS,
        nats_url=nats_url,
        data_dir=tmp_path_factory.mktemp("reports-hostile"),
        assemble_delay_seconds=0.01,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def client(app: FastAPI, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A write token's client; the module's incident declared and given an action item."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        headers=bearer(WRITE_TOKEN), transport=transport, base_url="http://reports", timeout=60
    ) as http:
        async with connected_jetstream(nats_url) as js:
            data = {"title": "Checkout latency", "severity": "critical"}
            await publish_event(
                js,
                event_envelope(
                    INCIDENT, f"{INCIDENT}-d", "majorops.incident.declared", "2026-11-20T09:14:00Z", data
                ),
            )

            async def review() -> httpx.Response:
                return await http.get(f"/v1/reviews/{INCIDENT}")

            await eventually(review, lambda r: r.status_code == 200, "the review", 15.0)
            item = await http.post(
                f"/v1/reviews/{INCIDENT}/action-items", json={"item_id": ITEM, "title": "Add an alert"}
            )
            assert item.status_code == 202, item.text
            try:
                yield http
            finally:
                await purge_incidents(js, INCIDENT)


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    async with connected_jetstream(nats_url) as context:
        yield context


async def record(client: httpx.AsyncClient, js: JetStreamContext) -> tuple[list[str], str]:
    """The incident's events as the stream holds them, and its review's ETag."""
    msgs = await consumed_messages(
        js, subjects.EVENTS_STREAM, f"{subjects.EVENTS_ROOT}.{INCIDENT}.>", 64, 0.1
    )
    review = await client.get(f"/v1/reviews/{INCIDENT}")
    return [json.loads(m.data)["id"] for m in msgs], review.headers["etag"]


ENDPOINTS = {
    "PATCH review": ("PATCH", f"/v1/reviews/{INCIDENT}", "root_cause", "changes[0].due"),
    "POST action item": ("POST", f"/v1/reviews/{INCIDENT}/action-items", "title", "due"),
    "PATCH action item": ("PATCH", f"/v1/reviews/{INCIDENT}/action-items/{ITEM}", "owner", "due"),
}
"""Each write endpoint with a body: method, path, a text field of its body, where a due date goes."""


async def send(
    client: httpx.AsyncClient, endpoint: str, content: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    method, path, _, _ = ENDPOINTS[endpoint]
    extra = {"content-type": "application/json", **(headers or {})}
    if method == "PATCH" and path.endswith(INCIDENT):
        extra.setdefault("if-match", (await client.get(path)).headers["etag"])
    return await client.request(method, path, content=content, headers=extra)


def with_due(endpoint: str, due: Any) -> dict[str, Any]:
    if endpoint == "PATCH review":
        return {"changes": [{"text": "Alert on pool saturation", "due": due}]}
    if endpoint == "POST action item":
        return {"title": "Add an alert", "due": due}
    return {"due": due}


BODIES: dict[str, tuple[bytes, int, str, str]] = {
    "10000 arrays": (b"[" * 10_000 + b"]" * 10_000, 400, "too-deep", f"more than {MAX_JSON_DEPTH} levels"),
    "10000 objects": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400, "too-deep", "levels deep"),
    "invalid UTF-8": (b'{"title":"\xff\xfe"}', 400, "not-json", "not UTF-8"),
    "NaN": (b'{"title":NaN}', 400, "not-json", "NaN is not a JSON value"),
    "Infinity": (b'{"title":Infinity}', 400, "not-json", "Infinity is not a JSON value"),
    "-Infinity": (b'{"title":-Infinity}', 400, "not-json", "-Infinity is not a JSON value"),
    "integer beyond 64 bits": (b'{"title":' + b"9" * 5000 + b"}", 400, "not-json", "beyond 64 bits"),
    "lone surrogate": (b'{"title":"\\udfff"}', 400, "not-json", "lone UTF-16 surrogate"),
    "truncated": (b'{"title":', 400, "not-json", "Expecting value"),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("case", list(BODIES), ids=list(BODIES))
async def test_a_body_that_is_not_strict_json_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, js: JetStreamContext, endpoint: str, case: str
) -> None:
    body, status, slug, phrase = BODIES[case]
    before = await record(client, js)
    doc = problem_of(await send(client, endpoint, body), status, slug)
    assert phrase in doc["detail"], doc["detail"]
    assert await record(client, js) == before


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_a_key_repeated_in_the_body_is_a_400_naming_it(
    client: httpx.AsyncClient, js: JetStreamContext, endpoint: str
) -> None:
    """Of two equal keys, the last would win silently: what was reviewed is not what is stored."""
    _, _, key, _ = ENDPOINTS[endpoint]
    body = f'{{"{key}":"what the reviewer saw","{key}":"what gets stored"}}'.encode()
    before = await record(client, js)
    doc = problem_of(await send(client, endpoint, body), 400, "duplicate-key")
    assert doc["errors"] == [{"field": key, "message": "appears more than once in its object"}]
    assert f"The key '{key}' appears more than once" in doc["detail"]
    assert await record(client, js) == before


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("declared_length", [True, False], ids=["declared", "streamed"])
async def test_a_body_over_1_mib_is_a_413_before_it_is_read(
    client: httpx.AsyncClient, js: JetStreamContext, endpoint: str, declared_length: bool
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(80):
            yield b" " * 65536

    before = await record(client, js)
    content: Any = b" " * (5 * 1024 * 1024) if declared_length else chunks()
    doc = problem_of(await send(client, endpoint, content), 413, "too-large")
    assert f"exceeds {MAX_BODY_BYTES} bytes" in doc["detail"]
    assert await record(client, js) == before


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("key", ["$where", "$gt", "a.b", "k\x00"])
async def test_a_key_a_document_store_interprets_is_a_422_naming_it(
    client: httpx.AsyncClient, js: JetStreamContext, endpoint: str, key: str
) -> None:
    _, _, text_field, _ = ENDPOINTS[endpoint]
    before = await record(client, js)
    resp = await send(client, endpoint, json.dumps({text_field: "x", key: {"$ne": None}}).encode())
    doc = problem_of(resp, 422, "invalid-input")
    assert doc["errors"] == [{"field": key, "message": "is not a field of this request"}]
    assert await record(client, js) == before


BAD_DUES = {
    "year 9999": ("9999-12-31", "year 9999 is out of range: the years 1970–2999 are accepted"),
    "year 0001": ("0001-01-01", "year 0001 is out of range: the years 1970–2999 are accepted"),
    "year 9999 time": ("9999-12-31T23:59:59Z", "year 9999 is out of range"),
    "no offset": ("2026-12-01T10:00:00", "must be an RFC 3339 timestamp with an offset"),
    "trailing newline": ("2026-12-01\n", "must be an RFC 3339 timestamp with an offset"),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("case", list(BAD_DUES), ids=list(BAD_DUES))
async def test_a_due_date_without_offset_or_outside_the_years_1970_to_2999_is_a_422(
    client: httpx.AsyncClient, js: JetStreamContext, endpoint: str, case: str
) -> None:
    """A plain date falls due at the start of the next day: 9999-12-31 would overflow every
    deadline computed from it (the overdue lists, reminders' escalations)."""
    due, message = BAD_DUES[case]
    _, _, _, field = ENDPOINTS[endpoint]
    before = await record(client, js)
    doc = problem_of(await send(client, endpoint, json.dumps(with_due(endpoint, due)).encode()), 422)
    assert [e["field"] for e in doc["errors"]] == [field], doc
    assert message in doc["errors"][0]["message"]
    assert await record(client, js) == before


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_the_token_is_checked_before_a_hostile_body_is_read(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    for headers, status in ((bearer("a-token-nobody-issued-0000"), 401), (bearer(READ_TOKEN), 403)):
        for body in (b"[" * 10_000, b" " * (5 * 1024 * 1024)):
            resp = await send(client, endpoint, body, {**headers, "if-match": "*"})
            problem_of(resp, status)


async def test_a_valid_body_still_reaches_the_route_whole(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    """The guard hands on the very bytes it read."""
    events, etag = await record(client, js)
    edit = {"root_cause": "Pool exhausted — 连接池耗尽 😀", "went_well": ["Paging"]}
    resp = await client.patch(f"/v1/reviews/{INCIDENT}", json=edit, headers={"if-match": etag})
    assert resp.status_code == 200, resp.text
    assert edit["root_cause"] in json.dumps(resp.json(), ensure_ascii=False)
    changed = await client.patch(f"/v1/reviews/{INCIDENT}/action-items/{ITEM}", json={"due": "2999-12-31"})
    assert changed.status_code == 202, changed.text
    after, _ = await record(client, js)
    assert len(after) == len(events) + 1
