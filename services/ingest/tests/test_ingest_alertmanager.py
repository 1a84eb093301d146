"""The Alertmanager webhook with payloads captured from a real Alertmanager 0.25 (../shared/fixtures)."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from majorops.ingest.app import create_app
from majorops.ingest.config import IngestSettings
from majorops.ingest.domain.alertmanager import webhook_to_events
from majorops.shared.events import validate_event
from majorops.shared.problems import Problem

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "alertmanager"
LOCAL_FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    for folder in (FIXTURES, LOCAL_FIXTURES):
        path = folder / name
        if path.exists():
            return json.loads(path.read_text())  # type: ignore[no-any-return]
    raise FileNotFoundError(name)


def test_firing_alert_becomes_alert_fired() -> None:
    events = webhook_to_events(fixture("firing.json"))
    assert not isinstance(events, Problem)
    [event] = events
    group_key = '{}:{alertname="CheckoutLatencyHigh"}'
    assert event["subject"] == "AM-" + hashlib.sha256(group_key.encode()).hexdigest()[:12]
    assert event["type"] == "majorops.alert.fired"
    assert event["time"] == "2026-11-27T06:01:32Z"
    assert event["data"]["alert_name"] == "CheckoutLatencyHigh"
    assert event["data"]["service"] == "checkout"
    assert event["data"]["severity"] == "critical"
    validate_event(event)


def test_resolved_alert_uses_ends_at_and_same_incident() -> None:
    fired = webhook_to_events(fixture("firing.json"))
    resolved = webhook_to_events(fixture("resolved.json"))
    assert not isinstance(fired, Problem) and not isinstance(resolved, Problem)
    assert resolved[0]["type"] == "majorops.alert.resolved"
    assert resolved[0]["time"] == "2026-11-27T06:01:40Z"
    assert resolved[0]["subject"] == fired[0]["subject"]
    assert resolved[0]["id"] != fired[0]["id"]


def test_incident_id_label_and_numeric_customer_count() -> None:
    payload = copy.deepcopy(fixture("firing.json"))
    payload["alerts"][0]["labels"]["incident_id"] = "INC-1042"
    payload["alerts"][0]["annotations"]["customer_count"] = "1200"
    [event] = webhook_to_events(payload)  # type: ignore[misc]
    assert event["subject"] == "INC-1042"
    assert event["data"]["customer_count"] == 1200
    payload["alerts"][0]["annotations"]["customer_count"] = "many"
    [event] = webhook_to_events(payload)  # type: ignore[misc]
    assert "customer_count" not in event["data"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p["alerts"][0].update(status="pending"), "alerts[0].status"),
        (lambda p: p["alerts"][0]["labels"].pop("alertname"), "alerts[0].labels.alertname"),
        (lambda p: p["alerts"][0].update(startsAt="soon"), "alerts[0].startsAt"),
        (lambda p: p["alerts"][0]["labels"].update(incident_id="bad id"), "alerts[0].labels.incident_id"),
        (lambda p: p.pop("groupKey"), "groupKey"),
    ],
)
def test_bad_payload_is_a_precise_problem(mutate: Any, field: str) -> None:
    payload = copy.deepcopy(fixture("firing.json"))
    mutate(payload)
    result = webhook_to_events(payload)
    assert isinstance(result, Problem)
    assert field in {e.field for e in result.errors}


@pytest.fixture
async def client(nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(IngestSettings(nats_url=nats_url))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest"
        ) as http:
            yield http


async def test_repeated_notifications_are_deduplicated(client: httpx.AsyncClient, unique_id: str) -> None:
    payload = copy.deepcopy(fixture("firing.json"))
    payload["alerts"][0]["labels"]["incident_id"] = unique_id
    payload["alerts"][0]["fingerprint"] = unique_id.lower()[-12:] + "abcd"
    first = await client.post("/v1/webhooks/alertmanager", json=payload)
    assert first.status_code == 202
    assert first.json() == {"accepted": 1, "duplicates": 0}
    repeat = await client.post("/v1/webhooks/alertmanager", json=payload)
    assert repeat.json() == {"accepted": 0, "duplicates": 1}
    resolved = copy.deepcopy(fixture("resolved.json"))
    resolved["alerts"][0]["labels"]["incident_id"] = unique_id
    resolved["alerts"][0]["fingerprint"] = payload["alerts"][0]["fingerprint"]
    assert (await client.post("/v1/webhooks/alertmanager", json=resolved)).json() == {
        "accepted": 1,
        "duplicates": 0,
    }


async def test_invalid_webhook_is_422(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/webhooks/alertmanager", json={"version": "4"})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
