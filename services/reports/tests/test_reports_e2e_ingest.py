"""End to end on a real nats-server: events posted to ingest's HTTP API come out of reports as the
rendered Learning Review, and an action item added through reports flows back through JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from majorops.ingest.bootstrap import create_app as create_ingest
from majorops.ingest.config import IngestSettings
from majorops.reports.bootstrap import create_app as create_reports
from majorops.reports.config import ReportsSettings
from majorops.shared.testing import (
    INGEST_TOKEN,
    TOKEN_SETTINGS,
    WRITE_TOKEN,
    bearer,
    event_envelope,
    eventually,
)

T = TypeVar("T")
DEADLINE_SECONDS = 15.0


@pytest.fixture
async def ingest(nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_ingest(IngestSettings(nats_url=nats_url, **TOKEN_SETTINGS))
    async with app.router.lifespan_context(app), _client(app, "http://ingest", INGEST_TOKEN) as http:
        yield http


@pytest.fixture
async def reports(nats_url: str, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = ReportsSettings(
        **TOKEN_SETTINGS, nats_url=nats_url, data_dir=data_dir, assemble_delay_seconds=0.01
    )
    app = create_reports(settings)
    async with app.router.lifespan_context(app), _client(app, "http://reports", WRITE_TOKEN) as http:
        yield http


def _client(app: FastAPI, base_url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, headers=bearer(token))


def event(incident: str, n: int, type_: str, time_: str, **data: Any) -> dict[str, Any]:
    return event_envelope(incident, f"{incident}-{n}", f"majorops.{type_}", time_, data)


async def until(fetch: Callable[[], Awaitable[T]], holds: Callable[[T], bool], what: str) -> T:
    return await eventually(fetch, holds, what, DEADLINE_SECONDS)


async def test_events_posted_to_ingest_become_the_rendered_learning_review(
    ingest: httpx.AsyncClient, reports: httpx.AsyncClient, unique_id: str
) -> None:
    inc = unique_id
    batch = [
        event(
            inc,
            1,
            "alert.fired",
            "2026-11-20T09:02:00Z",
            alert_name="CheckoutLatencyHigh",
            service="checkout",
            customer_count=1200,
        ),
        event(inc, 2, "incident.confirmed", "2026-11-20T09:09:00Z"),
        event(inc, 3, "incident.declared", "2026-11-20T09:14:00Z", title="Checkout latency", severity="P1"),
        event(inc, 4, "role.assigned", "2026-11-20T09:15:00Z", role="mim", person="Dana Reyes"),
        event(inc, 5, "incident.mitigated", "2026-11-20T10:14:00Z"),
        event(inc, 6, "incident.resolved", "2026-11-20T11:14:00Z"),
        event(
            inc,
            7,
            "mtm.held",
            "2026-11-20T10:00:00Z",
            action_items=[
                {"title": "Raise the connection pool limit", "owner": "DBA lead", "due": "2026-12-01"}
            ],
        ),
        event(inc, 8, "incident.closed", "2026-11-20T12:00:00Z"),
    ]
    # Late events arrive first: the review depends on the set of events, not their order.
    accepted = await ingest.post("/v1/events", json=list(reversed(batch)))
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"accepted": len(batch), "duplicates": 0}

    await until(
        lambda: reports.get(f"/v1/reviews/{inc}"),
        lambda r: r.status_code == 200 and len(r.json()["timeline"]) == len(batch),
        "every event in the review",
    )
    text: str = (await reports.get(f"/v1/reviews/{inc}.md")).text
    assert text.startswith(f"# Learning Review — {inc}: Checkout latency")
    timeline = [line for line in text.splitlines() if line.startswith("| 2026-11-20")]
    assert [row.split(" | ")[1] for row in timeline] == [
        "alert.fired",
        "incident.confirmed",
        "incident.declared",
        "role.assigned",
        "mtm.held",
        "incident.mitigated",
        "incident.resolved",
        "incident.closed",
    ]
    # TTD 7 min, declare 5 min, MTTM 1 h, MTTR 2 h: the metric rows hold those values.
    metrics = {
        line.split(" | ")[0].lstrip("| "): line.split(" | ")[-1].rstrip(" |")
        for line in text.splitlines()
        if line.startswith("| Time to")
    }
    assert len(metrics) == 4, text
    assert sorted(metrics.values()) == sorted(["7 min", "5 min", "1 h", "2 h"]), metrics
    assert "Raise the connection pool limit" in text and "DBA lead" in text
    assert "Dana Reyes" in text

    # An action item added through reports goes out on JetStream and comes back in the review.
    created = await reports.post(
        f"/v1/reviews/{inc}/action-items",
        json={"title": "Alert on pool saturation", "owner": "SRE lead", "due": "2026-12-05"},
    )
    assert created.status_code == 202, created.text
    final = await until(
        lambda: reports.get(f"/v1/reviews/{inc}.md"),
        lambda r: "Alert on pool saturation" in r.text,
        "the new action item in the Markdown",
    )
    items = [line for line in final.text.splitlines() if "| Open |" in line]
    assert len(items) == 2
