"""Ingest over HTTP and NATS against a real nats-server: what an alerting system would notice."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from majorops.ingest.bootstrap import create_app
from majorops.ingest.config import IngestSettings
from majorops.shared import subjects
from majorops.shared.testing import (
    INGEST_TOKEN,
    TOKEN_SETTINGS,
    bearer,
    connected_jetstream,
    declared_envelope,
    eventually,
    http_ready,
    msg_id_of,
    published_events,
    purge_incidents,
    service_process,
    settings_env,
    settings_for,
    unused_port,
)
from majorops.shared.testkit import app_client

# Captured from a real Alertmanager 0.25 (a copy of ../shared/fixtures/alertmanager).
ALERTMANAGER_FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
async def client(nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(IngestSettings(nats_url=nats_url, **TOKEN_SETTINGS))
    async with app_client(app, INGEST_TOKEN, "http://ingest") as http:
        yield http


async def stored_events(nats_url: str, incident: str) -> list[dict[str, Any]]:
    """What JetStream holds for one incident: subject, ``Nats-Msg-Id`` and body of each message."""
    msgs = await published_events(nats_url, incident)
    return [{"subject": m.subject, "msg_id": msg_id_of(m) or None, "body": json.loads(m.data)} for m in msgs]


async def test_single_event_is_published_with_alias_mapped(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    resp = await client.post("/v1/events", json=declared_envelope(unique_id, f"{unique_id}-1"))
    assert resp.status_code == 202
    assert resp.json() == {"accepted": 1, "duplicates": 0}
    stored = await stored_events(nats_url, unique_id)
    assert len(stored) == 1
    assert stored[0]["subject"] == f"majorops.events.{unique_id}.incident.declared"
    assert stored[0]["msg_id"] == f"{unique_id}-1"
    assert stored[0]["body"]["data"]["severity"] == "critical"
    assert stored[0]["body"]["data"]["title"] == "Checkout latency"


async def test_same_id_twice_counts_once(client: httpx.AsyncClient, nats_url: str, unique_id: str) -> None:
    ev = declared_envelope(unique_id, f"{unique_id}-dup")
    first = await client.post("/v1/events", json=[ev, ev])
    assert first.json() == {"accepted": 1, "duplicates": 1}
    again = await client.post("/v1/events", json=ev)
    assert again.json() == {"accepted": 0, "duplicates": 1}
    assert len(await stored_events(nats_url, unique_id)) == 1


async def test_duplicate_detected_after_restart_of_ingest(nats_url: str, unique_id: str) -> None:
    ev = declared_envelope(unique_id, f"{unique_id}-r")
    for expected in ({"accepted": 1, "duplicates": 0}, {"accepted": 0, "duplicates": 1}):
        app = create_app(IngestSettings(nats_url=nats_url, **TOKEN_SETTINGS))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                headers=bearer(INGEST_TOKEN), transport=httpx.ASGITransport(app=app), base_url="http://i"
            ) as http:
                assert (await http.post("/v1/events", json=ev)).json() == expected
    assert len(await stored_events(nats_url, unique_id)) == 1


async def test_invalid_batch_lists_every_error_and_publishes_nothing(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    good = declared_envelope(unique_id, f"{unique_id}-ok")
    bad_type = declared_envelope(unique_id, f"{unique_id}-t") | {"type": "majorops.incident.declard"}
    bad_sev = declared_envelope(unique_id, f"{unique_id}-s", severity="urgent", title="x")
    no_time = declared_envelope(unique_id, f"{unique_id}-n")
    del no_time["time"]
    resp = await client.post("/v1/events", json=[good, bad_type, bad_sev, no_time])
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    assert problem["status"] == 422
    where = {(e["index"], e["field"]) for e in problem["errors"]}
    assert (1, "type") in where
    assert (2, "data.severity") in where
    assert (3, "time") in where
    assert all(e["index"] != 0 for e in problem["errors"])
    assert await stored_events(nats_url, unique_id) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"x" * (1024 * 1024 + 1), 413)],
)
async def test_body_errors(client: httpx.AsyncClient, body: bytes, status: int) -> None:
    resp = await client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["status"] == status


async def test_batch_over_1000_rejected(client: httpx.AsyncClient, unique_id: str) -> None:
    batch = [declared_envelope(unique_id, f"{unique_id}-{i}") for i in range(1001)]
    resp = await client.post("/v1/events", json=batch)
    assert resp.status_code == 422


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).json() == {
        "status": "ready",
        "checks": {"nats": True, "streams": True, "writes": True},
    }


async def test_nats_request_gets_the_http_answer(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    nc = await nats.connect(nats_url)
    try:
        ev = declared_envelope(unique_id, f"{unique_id}-nats")
        reply = await nc.request(subjects.INGEST_REQUEST, json.dumps(ev).encode(), timeout=5)
        assert json.loads(reply.data) == {"accepted": 1, "duplicates": 0}
        bad = await nc.request(subjects.INGEST_REQUEST, b"nope", timeout=5)
        assert json.loads(bad.data)["status"] == 400
    finally:
        await nc.drain()
    await asyncio.sleep(0)
    assert len(await stored_events(nats_url, unique_id)) == 1


async def test_alertmanager_group_incident_has_title_and_severity(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    """Alertmanager posts its notification; the AM- incident's events carry a title and a severity."""
    payload = json.loads((ALERTMANAGER_FIXTURES / "firing.json").read_text())
    payload["groupKey"] = f'{{}}:{{alertname="CheckoutLatencyHigh",test="{unique_id}"}}'
    payload["alerts"][0]["fingerprint"] = f"{unique_id}-1"
    incident = "AM-" + hashlib.sha256(payload["groupKey"].encode()).hexdigest()[:12]
    try:
        resp = await client.post("/v1/webhooks/alertmanager", json=payload)
        assert resp.status_code == 202
        assert resp.json() == {"accepted": 2, "duplicates": 0}
        stored = await stored_events(nats_url, incident)
        assert [s["subject"] for s in stored] == [
            f"majorops.events.{incident}.alert.fired",
            f"majorops.events.{incident}.incident.updated",
        ]
        update = stored[1]["body"]
        assert update["data"] == {
            "title": "Checkout p99 latency above 2s",
            "severity": "critical",
            "source": "alertmanager",
        }
        assert update["time"] == "2026-11-27T06:01:32Z"
        assert stored[1]["msg_id"] == update["id"]

        # Repeats are duplicates; a ticketed alert (incident_id label) in the group adds no update.
        ticketed = copy.deepcopy(payload)
        ticketed["alerts"].append(copy.deepcopy(payload["alerts"][0]))
        ticketed["alerts"][1]["fingerprint"] = f"{unique_id}-2"
        ticketed["alerts"][1]["labels"]["incident_id"] = unique_id
        resp = await client.post("/v1/webhooks/alertmanager", json=ticketed)
        assert resp.json() == {"accepted": 1, "duplicates": 2}
        assert len(await stored_events(nats_url, incident)) == 2
        assert [s["subject"] for s in await stored_events(nats_url, unique_id)] == [
            f"majorops.events.{unique_id}.alert.fired"
        ]
    finally:
        async with connected_jetstream(nats_url) as js:
            await purge_incidents(js, incident)
            await purge_incidents(js, unique_id)


async def test_a_client_leaving_mid_body_is_one_info_line_not_an_error(
    nats_url: str, tmp_path: Path, unique_id: str
) -> None:
    """A sender that announces more body than it sends and hangs up costs one INFO line, not an
    ERROR with a 3 KB traceback (a cheap way to fill the log volume); the next request is served."""
    port = unused_port()
    environment = settings_env(settings_for(IngestSettings, nats_url, tmp_path / "data")) | {
        "MAJOROPS_INGEST_PORT": str(port)
    }
    log_path = tmp_path / "ingest.log"
    async with service_process("ingest", environment, log_path), httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{port}"
        await http_ready(base)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /v1/events HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {INGEST_TOKEN}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"specversion": "1.0", "id": '
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()

        def lines() -> list[dict[str, Any]]:
            return [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]

        async def disconnections() -> list[dict[str, Any]]:
            return [line for line in lines() if line["event"] == "http.client_disconnected"]

        gone = await eventually(disconnections, lambda found: len(found) > 0, "the disconnection logged")
        resp = await http.post(
            f"{base}/v1/events",
            json=declared_envelope(unique_id, f"{unique_id}-1"),
            headers=bearer(INGEST_TOKEN),
        )
        assert resp.status_code == 202
    assert [(line["level"], line["method"], line["path"]) for line in gone] == [
        ("info", "POST", "/v1/events")
    ]
    assert [line for line in lines() if line["level"] in ("error", "critical") or "exception" in line] == []
    await purge_incidents_at(nats_url, unique_id)


async def purge_incidents_at(nats_url: str, prefix: str) -> None:
    async with connected_jetstream(nats_url) as js:
        await purge_incidents(js, prefix)


async def test_no_swagger_ui_or_redoc_is_served_and_the_openapi_document_is(
    client: httpx.AsyncClient,
) -> None:
    """FastAPI's /docs and /redoc load their scripts from a CDN without integrity checks: off."""
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert (await client.get(path)).status_code == 404, path
    assert (await client.get("/openapi.json")).json()["info"]["title"].endswith("ingest")
