"""Who may write into the incident record through ingest, against the real app and a real nats-server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
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
    declared_envelope,
    published_events,
)
from majorops.shared.webhook_signatures import WebhookSecret, signature_headers

VENDOR_SECRET = "vendor-signing-secret-0123"
PROBLEM = "application/problem+json"


@pytest.fixture
async def app_client(nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Ingest with the tests' token and a vendor that signs its requests; no credentials by default."""
    tokens = f"{TOKEN_SETTINGS['ingest_tokens']},vendor:{VENDOR_SECRET}"
    app = create_app(IngestSettings(nats_url=nats_url, ingest_tokens=tokens))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            yield http


async def stored(nats_url: str, incident: str) -> list[dict[str, Any]]:
    return [json.loads(m.data) for m in await published_events(nats_url, incident, 10)]


def signed(body: bytes, secret: str, at: datetime | None = None) -> dict[str, str]:
    moment = at or datetime.now(UTC)
    return {
        "content-type": "application/json",
        **signature_headers([WebhookSecret(secret.encode())], "delivery-1", body, moment),
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("not-a-token-anyone-issued"),
        {"authorization": f"Basic {INGEST_TOKEN}"},
        {"authorization": INGEST_TOKEN},
    ],
    ids=["anonymous", "unknown token", "basic scheme", "no scheme"],
)
async def test_without_a_valid_token_nothing_is_published_and_the_answer_says_nothing_more(
    app_client: httpx.AsyncClient, nats_url: str, unique_id: str, headers: dict[str, str]
) -> None:
    for path, body in (
        ("/v1/events", declared_envelope(unique_id, f"{unique_id}-1")),
        ("/v1/webhooks/alertmanager", {}),
    ):
        resp = await app_client.post(path, json=body, headers=headers)
        assert resp.status_code == 401
        assert resp.headers["content-type"] == PROBLEM
        assert resp.headers["www-authenticate"] == 'Bearer realm="majorops-ingest"'
        problem = resp.json()
        assert problem["type"].endswith("/unauthenticated")
        # The same words whatever was sent: nothing about which tokens exist.
        assert "Authorization: Bearer <token>" in problem["detail"]
        assert "errors" not in problem
    assert await stored(nats_url, unique_id) == []


async def test_an_anonymous_huge_body_is_refused_before_it_is_read(app_client: httpx.AsyncClient) -> None:
    resp = await app_client.post("/v1/events", content=b"[" * (5 * 1024 * 1024))
    assert resp.status_code == 401


async def test_each_accepted_event_records_the_senders_name(
    app_client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    resp = await app_client.post(
        "/v1/events", json=declared_envelope(unique_id, f"{unique_id}-1"), headers=bearer(INGEST_TOKEN)
    )
    assert resp.status_code == 202
    [event] = await stored(nats_url, unique_id)
    assert (event["authtype"], event["authid"]) == ("api_key", "tests")


async def test_a_signed_request_is_accepted_in_its_window_and_names_the_signer(
    app_client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    body = json.dumps(declared_envelope(unique_id, f"{unique_id}-1")).encode()
    resp = await app_client.post("/v1/events", content=body, headers=signed(body, VENDOR_SECRET))
    assert resp.status_code == 202, resp.text
    [event] = await stored(nats_url, unique_id)
    assert event["authid"] == "vendor"

    stale = datetime.fromtimestamp(datetime.now(UTC).timestamp() - 600, UTC)
    other = json.dumps(declared_envelope(unique_id, f"{unique_id}-2")).encode()
    for headers, sent in (
        (signed(other, VENDOR_SECRET, stale), other),  # a replay of an old delivery
        (signed(other, "a-secret-nobody-issued-here"), other),
        (signed(other, VENDOR_SECRET), other.replace(b"Checkout", b"Payments")),  # changed on the way
    ):
        refused = await app_client.post("/v1/events", content=sent, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["detail"].startswith("The request's signature is not accepted")
    assert len(await stored(nats_url, unique_id)) == 1


async def test_a_sender_cannot_claim_to_be_someone_else(
    app_client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    forged = declared_envelope(unique_id, f"{unique_id}-1") | {"authid": "reports", "authtype": "api_key"}
    resp = await app_client.post(
        "/v1/events",
        json=[declared_envelope(unique_id, f"{unique_id}-0"), forged],
        headers=bearer(INGEST_TOKEN),
    )
    assert resp.status_code == 422
    assert {(e["index"], e["field"]) for e in resp.json()["errors"]} == {(1, "authid"), (1, "authtype")}
    assert await stored(nats_url, unique_id) == []


async def test_alertmanager_authorization_credentials_work_as_documented(
    app_client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    """Alertmanager's ``http_config.authorization.credentials`` sends ``Authorization: Bearer <it>``."""
    payload = {
        "version": "4",
        "groupKey": f'{{}}:{{test="{unique_id}"}}',
        "status": "firing",
        "receiver": "majorops",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Down", "incident_id": unique_id},
                "annotations": {},
                "startsAt": "2026-11-27T06:00:02Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": f"{unique_id.lower()[-12:]}ffff",
            }
        ],
    }
    resp = await app_client.post("/v1/webhooks/alertmanager", json=payload, headers=bearer(INGEST_TOKEN))
    assert resp.status_code == 202, resp.text
    [event] = await stored(nats_url, unique_id)
    assert event["authid"] == "tests"


async def test_probes_stay_open_and_nats_requests_record_nats(
    app_client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    assert (await app_client.get("/healthz")).status_code == 200
    assert (await app_client.get("/readyz")).status_code == 200
    nc = await nats.connect(nats_url)
    try:
        reply = await nc.request(
            subjects.INGEST_REQUEST,
            json.dumps(declared_envelope(unique_id, f"{unique_id}-n")).encode(),
            timeout=5,
        )
        assert json.loads(reply.data) == {"accepted": 1, "duplicates": 0}
    finally:
        await nc.drain()
    [event] = await stored(nats_url, unique_id)
    assert (event["authtype"], event["authid"]) == ("service_account", "nats")


def test_ingest_refuses_to_start_without_tokens() -> None:
    with pytest.raises(ValueError, match="MAJOROPS_INGEST_TOKENS is not set"):
        IngestSettings(ingest_tokens="").check_at_start()
