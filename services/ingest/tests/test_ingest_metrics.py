"""What an operator scraping ingest's ``/metrics`` sees after events are posted: every outcome counted
by the right amount with its labels, and each request by route template and status."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from nats.js import JetStreamContext

from majorops.ingest.bootstrap import create_app
from majorops.ingest.config import IngestSettings
from majorops.shared.testing import INGEST_TOKEN, TOKEN_SETTINGS, bearer, event_envelope, metric


@pytest.fixture
async def ingest(nats_url: str, js: JetStreamContext) -> AsyncIterator[httpx.AsyncClient]:
    """Ingest in-process (``js``: the test's incidents are purged from the events stream after)."""
    app = create_app(IngestSettings(nats_url=nats_url, **TOKEN_SETTINGS))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as http,
    ):
        yield http


async def scrape(http: httpx.AsyncClient) -> str:
    """``GET /metrics`` as Prometheus does: no token."""
    resp = await http.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return resp.text


async def test_metrics_count_accepted_duplicate_and_rejected_events_with_their_labels(
    ingest: httpx.AsyncClient, unique_id: str
) -> None:
    token = bearer(INGEST_TOKEN)
    events = [
        event_envelope(
            unique_id, f"{unique_id}-{n}", "majorops.timeline.logged", "2026-11-20T09:00:00Z", {"text": "x"}
        )
        for n in range(3)
    ]
    before = await scrape(ingest)

    assert (await ingest.post("/v1/events", json=events, headers=token)).json() == {
        "accepted": 3,
        "duplicates": 0,
    }
    # Sent again with one new event: two duplicates of the first batch, one accepted.
    again = [*events[:2], {**events[2], "id": f"{unique_id}-new"}]
    assert (await ingest.post("/v1/events", json=again, headers=token)).json() == {
        "accepted": 1,
        "duplicates": 2,
    }
    bad = {**events[0], "id": f"{unique_id}-bad", "time": "not a time"}
    assert (await ingest.post("/v1/events", json=[bad], headers=token)).status_code == 422
    not_json = await ingest.post(
        "/v1/events", content=b"{nope", headers={**token, "content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert (await ingest.post("/v1/events", json=events)).status_code == 401
    assert (await ingest.post("/v1/events", json=events, headers=bearer("x" * 32))).status_code == 401

    after = await scrape(ingest)

    def moved(name: str, **labels: str) -> float:
        return metric(after, name, service="ingest", **labels) - metric(
            before, name, service="ingest", **labels
        )

    assert moved("majorops_events_total", via="http", outcome="accepted") == 4
    assert moved("majorops_events_total", via="http", outcome="duplicate") == 2
    assert moved("majorops_requests_rejected_total", via="http", reason="invalid-events") == 1
    assert moved("majorops_requests_rejected_total", via="http", reason="not-json") == 1
    assert moved("majorops_requests_rejected_total", via="http", reason="unauthenticated") == 2
    assert moved("majorops_requests_rejected_total") == 4
    # Each request by its route template and status; the probes and the scrape itself too.
    route = {"method": "POST", "route": "/v1/events"}
    assert moved("majorops_http_requests_total", **route, status="202") == 2
    assert moved("majorops_http_requests_total", **route, status="422") == 1
    assert moved("majorops_http_requests_total", **route, status="400") == 1
    assert moved("majorops_http_requests_total", **route, status="401") == 2
    assert moved("majorops_http_request_seconds_count", **route) == 6
    assert moved("majorops_http_requests_total", method="GET", route="/metrics", status="200") == 1
    # Publishing to JetStream goes through the shared path: no incident id ever becomes a label.
    assert unique_id not in after


async def test_an_unknown_path_is_one_label_whatever_was_asked(
    ingest: httpx.AsyncClient, unique_id: str
) -> None:
    for n in range(3):
        assert (await ingest.get(f"/nothing/{unique_id}/{n}")).status_code == 404
    text = await scrape(ingest)
    assert metric(text, "majorops_http_requests_total", route="unmatched", status="404") >= 3
    assert unique_id not in text


async def test_metrics_and_probes_need_no_token_and_are_in_the_openapi(ingest: httpx.AsyncClient) -> None:
    assert (await ingest.get("/healthz")).status_code == 200
    assert (await ingest.get("/readyz")).status_code == 200
    assert "majorops_events_total" in await scrape(ingest)
    paths = (await ingest.get("/openapi.json")).json()["paths"]
    assert paths["/metrics"]["get"]["security"] == []
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]


async def test_a_mapped_webhook_refused_is_counted_by_its_reason(ingest: httpx.AsyncClient) -> None:
    token = {**bearer(INGEST_TOKEN), "content-type": "application/json"}
    before = await scrape(ingest)

    assert (await ingest.post("/v1/webhooks/nosuchsender", content=b"{}", headers=token)).status_code == 404
    assert (await ingest.post("/v1/webhooks/pagerduty", content=b"{nope", headers=token)).status_code == 400
    unfit = await ingest.post("/v1/webhooks/pagerduty", json={"event": {}}, headers=token)
    assert unfit.status_code == 422

    after = await scrape(ingest)

    def moved(reason: str) -> float:
        labels = {"service": "ingest", "via": "http", "reason": reason}
        return metric(after, "majorops_requests_rejected_total", **labels) - metric(
            before, "majorops_requests_rejected_total", **labels
        )

    assert moved("unknown-webhook-mapping") == 1
    assert moved("not-json") == 1
    assert moved("webhook-mapping-failed") == 1
