"""Reports' routes with their ports replaced through ``app.dependency_overrides``: the real app
(token gate, strict bodies, problem documents) over the embedded store, a hand-written publisher
and a fixed clock, without NATS or a lifespan. What someone editing a review's root cause or
fetching the meeting invitation would notice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from fastapi import FastAPI

from majorops.reports.adapters.sqlite import SqliteReviewStore
from majorops.reports.bootstrap import create_app
from majorops.reports.config import ReportsSettings
from majorops.reports.entrypoints.dependencies import clock_of, publisher_of, store_of
from majorops.reports.handlers.consume import EVENT, record
from majorops.reports.ports import ReportsPorts
from majorops.shared.events import CloudEvent
from majorops.shared.testing import READ_TOKEN, TOKEN_SETTINGS, WRITE_TOKEN, bearer, event_envelope

INC = "INC-7"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"


class RecordingPublisher:
    """Stands in for JetStream: keeps what was published."""

    def __init__(self) -> None:
        self.published: list[CloudEvent] = []

    async def publish(self, event: CloudEvent) -> int:
        self.published.append(event)
        return 1000 + len(self.published)


class Harness:
    """The app, its replaced ports, and clients with a write and a read token."""

    def __init__(self, app: FastAPI, ports: ReportsPorts, publisher: RecordingPublisher) -> None:
        self.app = app
        self.ports = ports
        self.publisher = publisher
        self.arrivals = 0
        transport = httpx.ASGITransport(app=app)
        self.writer = httpx.AsyncClient(
            transport=transport, base_url="http://reports", headers=bearer(WRITE_TOKEN)
        )
        self.reader = httpx.AsyncClient(
            transport=transport, base_url="http://reports", headers=bearer(READ_TOKEN)
        )

    async def record(self, *events: dict[str, Any]) -> None:
        for body in events:
            self.arrivals += 1
            await record(EVENT, body, self.ports, self.arrivals)

    async def etag(self) -> str:
        resp = await self.writer.get(f"/v1/reviews/{INC}")
        assert resp.status_code == 200, resp.text
        return resp.headers["etag"]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    app = create_app(ReportsSettings(**TOKEN_SETTINGS, data_dir=tmp_path))
    store = await SqliteReviewStore.open(tmp_path / "routes.sqlite3")
    publisher = RecordingPublisher()
    app.dependency_overrides[store_of] = lambda: store
    app.dependency_overrides[publisher_of] = lambda: publisher
    app.dependency_overrides[clock_of] = lambda: lambda: NOW
    test = Harness(app, ReportsPorts(store=store, publisher=publisher, clock=lambda: NOW), publisher)
    try:
        yield test
    finally:
        await test.writer.aclose()
        await test.reader.aclose()
        await store.close()


def ev(event_id: str, type_: str, time: str, **data: Any) -> dict[str, Any]:
    return event_envelope(INC, event_id, f"majorops.{type_}", time, data)


DECLARED = ev("d", "incident.declared", "2026-11-20T09:14:00Z", title="Checkout latency", severity="P1")
ROOT_CAUSE = ev(
    "rc",
    "rootcause.identified",
    "2026-11-20T10:00:00Z",
    fingerprint="db-pool",
    summary="Pool ran dry",
    contributing_factors=["No saturation alert"],
)


def assert_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    return body


# --- ports through Depends ------------------------------------------------------------------


async def test_the_routes_act_through_the_ports_they_are_given(harness: Harness) -> None:
    """No NATS and no lifespan: the review comes from the store given, the change goes to the
    publisher given, stamped by the clock given."""
    await harness.record(DECLARED)
    review = await harness.reader.get(f"/v1/reviews/{INC}")
    assert review.status_code == 200 and review.json()["summary"]["title"] == "Checkout latency"

    created = await harness.writer.post(
        f"/v1/reviews/{INC}/action-items",
        json={"item_id": "AI-1", "title": "Add a pool alert", "due": "2026-11-26"},
    )
    assert created.status_code == 202, created.text
    (event,) = harness.publisher.published
    assert (event.type, event.time, event.author) == (
        "majorops.actionitem.created",
        "2026-11-27T12:00:00Z",
        "editor",
    )
    # "Overdue" is the overridden clock's: due the 26th, now the 27th.
    overdue = (await harness.reader.get("/v1/action-items", params={"overdue": "true"})).json()["items"]
    assert [(i["incident_id"], i["item_id"], i["overdue"]) for i in overdue] == [(INC, "AI-1", True)]


async def test_without_overrides_a_route_before_the_start_is_503_not_ready(harness: Harness) -> None:
    harness.app.dependency_overrides.clear()
    body = assert_problem(await harness.reader.get(f"/v1/reviews/{INC}"), 503)
    assert body["type"].endswith("/not-ready")


# --- the root cause as GET shows it (RFC 7396) ---------------------------------------------------


async def test_root_cause_is_edited_as_the_object_get_shows_or_as_its_text(harness: Harness) -> None:
    await harness.record(DECLARED, ROOT_CAUSE)
    url = f"/v1/reviews/{INC}"

    async def patch(body: dict[str, Any]) -> dict[str, Any]:
        resp = await harness.writer.patch(url, json=body, headers={"If-Match": await harness.etag()})
        assert resp.status_code == 200, resp.text
        root_cause: dict[str, Any] = resp.json()["root_cause"]
        assert (await harness.reader.get(url)).json()["root_cause"] == root_cause
        return root_cause

    text = "The incident was caused by pool exhaustion."
    # The object form: the members given replace those parts; the rest stays.
    edited = await patch(
        {"root_cause": {"text": text, "contributing_factors": ["Pool sized for 2019 traffic"]}}
    )
    assert (edited["text"], edited["contributing_factors"]) == (text, ["Pool sized for 2019 traffic"])
    assert edited["fingerprint"] == "db-pool"  # from the record, untouched
    only_factors = await patch(
        {"root_cause": {"contributing_factors": ["No saturation alert", "Retry storm"]}}
    )
    assert (only_factors["text"], only_factors["contributing_factors"]) == (
        text,
        ["No saturation alert", "Retry storm"],
    )
    # The plain string form is the text, as before.
    plain = await patch({"root_cause": "The incident was caused by a retry storm."})
    assert plain["text"] == "The incident was caused by a retry storm."
    assert plain["contributing_factors"] == ["No saturation alert", "Retry storm"]
    # null returns a member to what the record says.
    factors_back = await patch({"root_cause": {"contributing_factors": None}})
    assert factors_back["contributing_factors"] == ["No saturation alert"]
    assert factors_back["text"] == "The incident was caused by a retry storm."
    text_back = await patch({"root_cause": {"text": None}})
    assert text_back["text"] == "Pool ran dry"
    # ``root_cause: null`` keeps its meaning of the string form: the text back to the record.
    await patch({"root_cause": {"contributing_factors": ["Retry storm"]}})
    both = await patch({"root_cause": None})
    assert (both["text"], both["contributing_factors"]) == ("Pool ran dry", ["Retry storm"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"root_cause": {"fingerprint": "db-pool"}}, "root_cause.fingerprint"),
        ({"root_cause": {"txt": "typo"}}, "root_cause.txt"),
        ({"root_cause": {"contributing_factors": "one factor"}}, "root_cause.contributing_factors"),
        ({"root_cause": {"contributing_factors": [7]}}, "root_cause.contributing_factors[0]"),
        ({"root_cause": {"text": ["a", "list"]}}, "root_cause.text"),
        ({"root_cause": {}}, "root_cause"),
        ({"root_cause": 42}, "root_cause"),
        ({"root_cause": ["The incident was caused by pool exhaustion."]}, "root_cause"),
        (
            {"root_cause": {"contributing_factors": ["a"]}, "contributing_factors": ["b"]},
            "contributing_factors",
        ),
    ],
    ids=[
        "read-only-member",
        "unknown-member",
        "factors-not-a-list",
        "factor-not-a-string",
        "text-not-a-string",
        "empty-object",
        "a-number",
        "a-list",
        "factors-twice",
    ],
)
async def test_a_root_cause_of_another_shape_is_a_422_naming_the_field(
    harness: Harness, body: dict[str, Any], field: str
) -> None:
    await harness.record(DECLARED, ROOT_CAUSE)
    etag = await harness.etag()
    problem = assert_problem(
        await harness.writer.patch(f"/v1/reviews/{INC}", json=body, headers={"If-Match": etag}), 422
    )
    assert field in [error["field"] for error in problem["errors"]], problem
    assert await harness.etag() == etag  # nothing changed


# --- the meeting invitation -------------------------------------------------------------------


async def test_the_invitation_is_a_409_until_the_meeting_is_scheduled_then_an_icalendar_event(
    harness: Harness,
) -> None:
    url = f"/v1/reviews/{INC}/invite.ics"
    assert_problem(await harness.reader.get(url), 404)
    await harness.record(
        DECLARED,
        ev("mim", "role.assigned", "2026-11-20T09:15:00Z", role="mim", person="Dana Reyes"),
        ev("closed", "incident.closed", "2026-11-20T12:00:00Z"),
    )
    not_yet = assert_problem(await harness.reader.get(url), 409)
    assert not_yet["type"].endswith("/meeting-not-scheduled")

    await harness.record(
        ev("s", "afteraction.scheduled", "2026-11-20T13:00:00Z", meeting_at="2026-11-24T15:00:00Z")
    )
    resp = await harness.reader.get(url)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/calendar; charset=utf-8"
    assert resp.text.endswith("END:VCALENDAR\r\n")
    (event,) = icalendar.Calendar.from_ical(resp.text).walk("VEVENT")
    assert event.decoded("DTSTART") == datetime(2026, 11, 24, 15, tzinfo=UTC)
    # MAJOROPS_PUBLIC_URL unset: reports' listen address, whatever Host the request named.
    assert str(event["URL"]) == f"http://127.0.0.1:8081/v1/reviews/{INC}.html"
    attendee = event["ATTENDEE"]
    assert (attendee.params["CN"], attendee.params["ROLE"]) == ("Dana Reyes", "REQ-PARTICIPANT")
    assert event.decoded("SEQUENCE") == 0

    await harness.record(
        ev("r", "afteraction.rescheduled", "2026-11-21T09:00:00Z", meeting_at="2026-11-25T10:00:00Z")
    )
    (moved,) = icalendar.Calendar.from_ical((await harness.reader.get(url)).text).walk("VEVENT")
    assert (str(moved["UID"]), moved.decoded("SEQUENCE")) == (str(event["UID"]), 1)
    assert moved.decoded("DTSTART") == datetime(2026, 11, 25, 10, tzinfo=UTC)


async def test_the_invitations_link_starts_with_the_public_url_never_with_the_requests_host(
    harness: Harness,
) -> None:
    """A Host header (or X-Forwarded-Host) is whatever the client writes: reflected into an
    invitation, anyone could make reports hand out a link to their own site."""
    harness.app.state.runtime.settings = ReportsSettings(
        **TOKEN_SETTINGS,
        data_dir=harness.app.state.runtime.settings.data_dir,
        public_url="https://reviews.example.com/majorops/",
    )
    await harness.record(
        DECLARED, ev("s", "afteraction.scheduled", "2026-11-20T13:00:00Z", meeting_at="2026-11-24T15:00:00Z")
    )
    forged = {"host": "evil.example", "x-forwarded-host": "evil.example", "x-forwarded-proto": "http"}
    resp = await harness.reader.get(f"/v1/reviews/{INC}/invite.ics", headers=forged)
    assert resp.status_code == 200, resp.text
    (event,) = icalendar.Calendar.from_ical(resp.text).walk("VEVENT")
    assert str(event["URL"]) == f"https://reviews.example.com/majorops/v1/reviews/{INC}.html"
    assert "evil.example" not in resp.text


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("reviews.example.com", "it is not http:// or https://"),
        ("https://", "it names no host"),
        ("https://me:pw@reviews.example.com", "it carries a user or password"),
        ("https://reviews.example.com/?x=1", "it has a query or a fragment"),
    ],
)
def test_a_public_url_that_is_not_a_base_for_links_is_refused_saying_why(given: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"MAJOROPS_PUBLIC_URL .* is not a base URL for links: {why}"):
        ReportsSettings(**TOKEN_SETTINGS, public_url=given)
