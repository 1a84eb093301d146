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

from majorops.ingest.bootstrap import create_app
from majorops.ingest.config import IngestSettings
from majorops.ingest.domain.alertmanager import group_incident_id, webhook_to_events
from majorops.shared.events import validate_event
from majorops.shared.problems import Problem
from majorops.shared.testing import INGEST_TOKEN, TOKEN_SETTINGS, connected_jetstream, purge_incidents
from majorops.shared.testkit import app_client

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "alertmanager"
LOCAL_FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    for folder in (FIXTURES, LOCAL_FIXTURES):
        path = folder / name
        if path.exists():
            return json.loads(path.read_text())  # type: ignore[no-any-return]
    raise FileNotFoundError(name)


def events_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    events = webhook_to_events(payload)
    assert not isinstance(events, Problem), events
    return events


def updates_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in events_of(payload) if e["type"] == "majorops.incident.updated"]


def alert(
    name: str,
    fingerprint: str,
    starts_at: str,
    severity: str | None = None,
    summary: str | None = None,
    **labels: str,
) -> dict[str, Any]:
    """One alert as Alertmanager 0.25 sends it (the shape of ../shared/fixtures/alertmanager)."""
    return {
        "status": "firing",
        "labels": {"alertname": name, **({"severity": severity} if severity else {}), **labels},
        "annotations": {"summary": summary} if summary is not None else {},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": fingerprint,
    }


def group(group_key: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("firing.json"))
    payload["groupKey"] = group_key
    payload["alerts"] = list(alerts)
    return payload


def test_firing_alert_becomes_alert_fired() -> None:
    event, _update = events_of(fixture("firing.json"))
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


def test_group_incident_gets_title_and_severity_from_its_alerts() -> None:
    """The captured notification: the AM- incident is titled by the summary and is critical."""
    fired, update = events_of(fixture("firing.json"))
    assert update == {
        "specversion": "1.0",
        "id": update["id"],
        "source": "http://127.0.0.1:9093",
        "type": "majorops.incident.updated",
        "time": "2026-11-27T06:01:32Z",
        "subject": fired["subject"],
        "datacontenttype": "application/json",
        "data": {"title": "Checkout p99 latency above 2s", "severity": "critical", "source": "alertmanager"},
    }
    assert update["id"].startswith(f"am:{fired['subject']}:incident:")
    assert validate_event(update).data["severity"] == "critical"


def test_every_notification_of_the_group_names_the_same_update() -> None:
    """Repeats and the resolved notification give the same event id: ingest counts a duplicate."""
    firing = updates_of(fixture("firing.json"))
    assert updates_of(fixture("firing.json")) == firing
    assert [u["id"] for u in updates_of(fixture("resolved.json"))] == [firing[0]["id"]]


def test_a_more_severe_alert_joining_the_group_raises_the_severity() -> None:
    first = group(
        '{}:{service="checkout"}', alert("Slow", "aa01", "2026-11-27T06:00:00Z", "P3", "Checkout slow")
    )
    later = copy.deepcopy(first)
    later["alerts"].append(alert("Down", "aa02", "2026-11-27T06:10:00Z", "critical", "Checkout down"))
    [before] = updates_of(first)
    [after] = updates_of(later)
    assert before["data"]["severity"] == "medium"
    assert after["data"] == {"title": "Checkout slow", "severity": "critical", "source": "alertmanager"}
    assert after["time"] == before["time"] == "2026-11-27T06:00:00Z"
    assert after["subject"] == before["subject"]
    assert after["id"] != before["id"]


def test_title_is_the_first_alerts_summary_else_its_alertname() -> None:
    # The earliest startsAt wins whatever the payload order; a tie goes to the lower fingerprint.
    payload = group(
        "g1",
        alert("Later", "bb00", "2026-11-27T07:00:00Z", summary="Later summary"),
        alert("NoSummary", "bb02", "2026-11-27T06:00:00+00:00"),
        alert("Tied", "bb03", "2026-11-27T06:00:00Z", summary="Tied summary"),
    )
    [update] = updates_of(payload)
    assert update["data"]["title"] == "NoSummary"
    assert update["time"] == "2026-11-27T06:00:00+00:00"
    payload["alerts"][1]["annotations"]["summary"] = "  "
    assert updates_of(payload)[0]["data"]["title"] == "NoSummary"
    payload["alerts"][1]["annotations"]["summary"] = "Disk full on db-1"
    assert updates_of(payload)[0]["data"]["title"] == "Disk full on db-1"


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["warning", "info"], None),
        (["warning", "p2"], "high"),
        (["Low", "CRITICAL", "P3"], "critical"),
        ([None], None),
    ],
)
def test_severity_is_the_strongest_contract_severity_label(
    labels: list[str | None], expected: str | None
) -> None:
    alerts = [alert(f"A{i}", f"cc0{i}", "2026-11-27T06:00:00Z", label) for i, label in enumerate(labels)]
    events = events_of(group("g2", *alerts))
    [update] = [e for e in events if e["type"] == "majorops.incident.updated"]
    assert update["data"].get("severity") == expected
    validate_event(update)
    # A Prometheus label that is no contract severity is not mapped, but kept on the alert.
    if "warning" in labels:
        assert events[0]["data"]["severity"] == "warning"


def test_alerts_with_an_incident_id_label_get_no_update() -> None:
    payload = group(
        "g3", alert("Ticketed", "dd01", "2026-11-27T05:00:00Z", "P1", "Ticketed", incident_id="INC-7")
    )
    events = events_of(payload)
    assert [e["type"] for e in events] == ["majorops.alert.fired"]
    # Only the label-less alerts of a mixed group make the AM- incident's update.
    payload["alerts"].append(alert("Loose", "dd02", "2026-11-27T06:00:00Z", "low", "Loose summary"))
    [update] = updates_of(payload)
    assert update["subject"].startswith("AM-")
    assert update["data"] == {"title": "Loose summary", "severity": "low", "source": "alertmanager"}
    assert update["time"] == "2026-11-27T06:00:00Z"


def test_update_follows_the_alert_events() -> None:
    payload = group(
        "g4", alert("A", "ee01", "2026-11-27T06:00:00Z"), alert("B", "ee02", "2026-11-27T06:01:00Z")
    )
    assert [e["type"] for e in events_of(payload)] == [
        "majorops.alert.fired",
        "majorops.alert.fired",
        "majorops.incident.updated",
    ]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p["alerts"][0].update(status="pending"), "alerts[0].status"),
        (lambda p: p["alerts"][0]["labels"].pop("alertname"), "alerts[0].labels.alertname"),
        (lambda p: p["alerts"][0].update(startsAt="soon"), "alerts[0].startsAt"),
        (lambda p: p["alerts"][0]["labels"].update(incident_id="bad id"), "alerts[0].labels.incident_id"),
        (lambda p: p.pop("groupKey"), "groupKey"),
        (
            lambda p: p["alerts"][0].update(status="resolved", endsAt="2026-11-27T06:09:00Z", startsAt="x"),
            "alerts[0].startsAt",
        ),
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
    app = create_app(IngestSettings(nats_url=nats_url, **TOKEN_SETTINGS))
    async with app_client(app, INGEST_TOKEN, "http://ingest") as http:
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


async def test_group_incident_update_is_counted_once_and_raised_by_a_worse_alert(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    """What Alertmanager is answered: the update counts as accepted once, then as a duplicate on
    every repeat, also on the resolved notification; a more severe alert adds a new one."""
    payload = copy.deepcopy(fixture("firing.json"))
    payload["groupKey"] = f'{{}}:{{alertname="CheckoutLatencyHigh",test="{unique_id}"}}'
    payload["alerts"][0]["fingerprint"] = f"{unique_id}-1"
    payload["alerts"][0]["labels"]["severity"] = "high"
    worse = copy.deepcopy(payload)
    worse["alerts"].append(
        alert("CheckoutDown", f"{unique_id}-2", "2026-11-27T06:05:00Z", "P1", "Checkout down")
    )
    resolved = copy.deepcopy(worse)
    resolved["status"] = "resolved"
    for item in resolved["alerts"]:
        item.update(status="resolved", endsAt="2026-11-27T06:30:00Z")

    async def post(body: dict[str, Any]) -> dict[str, int]:
        resp = await client.post("/v1/webhooks/alertmanager", json=body)
        assert resp.status_code == 202, resp.text
        return resp.json()  # type: ignore[no-any-return]

    try:
        assert await post(payload) == {"accepted": 2, "duplicates": 0}
        assert await post(payload) == {"accepted": 0, "duplicates": 2}
        # The new alert and the raised update are new; the first alert is a repeat.
        assert await post(worse) == {"accepted": 2, "duplicates": 1}
        # Two resolved alerts are new; the update (same title, same severity) is a repeat.
        assert await post(resolved) == {"accepted": 2, "duplicates": 1}
    finally:
        async with connected_jetstream(nats_url) as js:
            await purge_incidents(js, group_incident_id(payload["groupKey"]))


async def test_invalid_webhook_is_422(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/webhooks/alertmanager", json={"version": "4"})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"


async def test_a_group_of_1000_alerts_is_one_notification_not_a_batch_over_the_limit(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    # 1000 alert events plus the group's update: the 1000-per-request limit of /v1/events is for
    # senders' own batches; Alertmanager cannot split a group's notification.
    payload = group(
        f'{{}}:{{alertname="NodeDown",test="{unique_id}"}}',
        *(alert("NodeDown", f"{unique_id}-{n}", "2026-11-27T06:00:00Z", "critical") for n in range(1000)),
    )
    try:
        resp = await client.post("/v1/webhooks/alertmanager", json=payload)
        assert resp.status_code == 202, resp.text[:500]
        assert resp.json() == {"accepted": 1001, "duplicates": 0}
    finally:
        async with connected_jetstream(nats_url) as js:
            await purge_incidents(js, group_incident_id(payload["groupKey"]))


def test_prometheus_3_dotted_label_names_are_kept_as_prometheus_translates_them() -> None:
    """OpenTelemetry-style names (``service.name``) are valid in Prometheus 3; the record keeps them
    with ``_`` for what a document store would interpret, so the notification is not refused forever."""
    payload = fixture("firing.json")
    payload["alerts"][0]["labels"].update(
        {"service.name": "checkout", "$odd": "x", "k8s.pod.severity": "high"}
    )
    payload["alerts"][0]["annotations"]["runbook.url"] = "https://runbooks/checkout"
    events = webhook_to_events(payload)
    assert not isinstance(events, Problem)
    data = events[0]["data"]
    assert data["labels"]["service_name"] == "checkout" and data["labels"]["_odd"] == "x"
    assert data["annotations"]["runbook_url"] == "https://runbooks/checkout"
    assert data["k8s_pod_severity"] == "high"
    for event in events:
        validate_event(event)  # what ingest checks before publishing
