"""One id, one content: concurrent sends of one id with other content through two real ingest
processes, and the states a killed ingest leaves in its key-value bucket of ids, against a real
nats-server.

What a sender notices: of two concurrent sends of one id with different content, exactly one is
answered ``202`` and the other ``409``; afterwards the winner's content is a duplicate, the loser's a
``409``, and the stream holds the winner's content once. An id claimed by an ingest killed before it
recorded the outcome is never a "duplicate" of an event that is not in the stream, nor published
twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from majorops.ingest.adapters.seen_entries import claim_value, seen_key
from majorops.ingest.bootstrap import create_app
from majorops.ingest.config import IngestSettings
from majorops.ingest.domain.batch import content_digest
from majorops.shared import subjects
from majorops.shared.events import AUTH_API_KEY, CloudEvent, validate_event
from majorops.shared.testing import (
    INGEST_TOKEN,
    TOKEN_SETTINGS,
    bearer,
    connected_jetstream,
    declared_envelope,
    http_ready,
    msg_id_of,
    service_process,
    settings_env,
    settings_for,
    stored_messages,
    unused_port,
)
from majorops.shared.testkit import app_client

PAIRS = 100
EVENTS = "/v1/events"
DUPLICATE = {"accepted": 0, "duplicates": 1}
ACCEPTED = {"accepted": 1, "duplicates": 0}


def content(incident: str, event_id: str, title: str) -> dict[str, Any]:
    return declared_envelope(incident, event_id, title=title)


async def stored(js: JetStreamContext, incident: str) -> list[tuple[str, str]]:
    """``(Nats-Msg-Id, title)`` of every event the stream holds for the incident."""
    msgs = await stored_messages(js, subjects.EVENTS_STREAM, f"{subjects.EVENTS_ROOT}.{incident}.>")
    return [(msg_id_of(m), json.loads(m.data or b"{}")["data"]["title"]) for m in msgs]


@pytest.fixture
async def replicas(nats_url: str, tmp_path: Path) -> AsyncIterator[list[str]]:
    """Two ingest processes on one NATS, as two replicas behind a load balancer: their base URLs."""
    urls: list[str] = []
    async with AsyncExitStack() as stack:
        for n in (1, 2):
            port = unused_port()
            settings = settings_for(IngestSettings, nats_url, tmp_path / f"data-{n}")
            environment = settings_env(settings) | {
                "MAJOROPS_INGEST_HOST": "127.0.0.1",
                "MAJOROPS_INGEST_PORT": str(port),
            }
            await stack.enter_async_context(
                service_process("ingest", environment, tmp_path / f"ingest-{n}.log")
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            await http_ready(url)
        yield urls


async def test_concurrent_sends_of_one_id_with_other_content_give_one_202_and_one_409(
    replicas: list[str], js: JetStreamContext, unique_id: str
) -> None:
    async with httpx.AsyncClient(headers=bearer(INGEST_TOKEN), timeout=30) as http:

        async def send(replica: int, body: dict[str, Any]) -> httpx.Response:
            return await http.post(f"{replicas[replica]}{EVENTS}", json=body)

        outcomes = []
        for pair in range(PAIRS):
            incident = f"{unique_id}-{pair}"
            first, second = (content(incident, f"{incident}-x", title) for title in ("first", "second"))
            a, b = await asyncio.gather(send(pair % 2, first), send(1 - pair % 2, second))
            statuses = sorted((a.status_code, b.status_code))
            outcomes.append(statuses)
            if statuses != [202, 409]:
                continue
            winner, loser = (first, second) if a.status_code == 202 else (second, first)
            conflict = (b if a.status_code == 202 else a).json()
            assert conflict["type"].endswith("/id-conflict")
            assert (await send(pair % 2, winner)).json() == DUPLICATE
            assert (await send(1 - pair % 2, loser)).status_code == 409
            assert await stored(js, incident) == [(f"{incident}-x", winner["data"]["title"])]
    assert outcomes == [[202, 409]] * PAIRS


@pytest.fixture
async def client(nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(IngestSettings(nats_url=nats_url, **TOKEN_SETTINGS))
    async with app_client(app, INGEST_TOKEN, "http://ingest") as http:
        yield http


def as_published(body: dict[str, Any]) -> CloudEvent:
    """The event as ingest publishes it (validated, with who sent it)."""
    return validate_event(body).written_by(AUTH_API_KEY, "ingest-test")


async def leave_claim(js: JetStreamContext, body: dict[str, Any]) -> None:
    """What an ingest killed after claiming ``body``'s id, and before recording it, leaves."""
    kv = await js.key_value(subjects.INGEST_SEEN_BUCKET)
    event = as_published(body)
    subject = subjects.event_subject(event.incident_id, event.type)
    await kv.create(seen_key(event.id), claim_value(content_digest(event), subject))


async def test_a_claim_left_unpublished_is_published_by_the_next_send_of_its_content(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    body = content(unique_id, f"{unique_id}-c", "claimed")
    await leave_claim(js, body)
    other = content(unique_id, f"{unique_id}-c", "other")
    refused = await client.post(EVENTS, json=other)
    assert refused.status_code == 409, refused.text
    assert await stored(js, unique_id) == []
    assert (await client.post(EVENTS, json=body)).json() == ACCEPTED
    assert (await client.post(EVENTS, json=body)).json() == DUPLICATE
    assert (await client.post(EVENTS, json=other)).status_code == 409
    assert await stored(js, unique_id) == [(f"{unique_id}-c", "claimed")]


async def test_a_claim_left_published_is_not_published_again_beyond_the_duplicate_window(
    own_nats_url: str, unique_id: str
) -> None:
    """The killed ingest's publish landed before it could record it, and JetStream's two-minute
    duplicate window, which would drop a second copy, is over: the next send of the content finds
    the event in the stream instead of publishing it again."""
    body = content(unique_id, f"{unique_id}-p", "published")
    app = create_app(IngestSettings(nats_url=own_nats_url, **TOKEN_SETTINGS))
    async with (
        app_client(app, INGEST_TOKEN, "http://ingest") as client,
        connected_jetstream(own_nats_url) as js,
    ):
        await leave_claim(js, body)
        event = as_published(body)
        payload = json.dumps(event.to_wire()).encode()
        subject = subjects.event_subject(event.incident_id, event.type)
        await js.publish(subject, payload, headers={"Nats-Msg-Id": event.id})
        await roll_duplicate_window(js)
        assert (await client.post(EVENTS, json=body)).json() == DUPLICATE
        assert (await client.post(EVENTS, json=body)).json() == DUPLICATE
        assert await stored(js, unique_id) == [(f"{unique_id}-p", "published")]


async def roll_duplicate_window(js: JetStreamContext) -> None:
    """Make JetStream forget the message ids it saw: shrink the events stream's duplicate window to
    a moment, wait it out, and set it back (as ingest and provision keep it)."""
    config = (await js.stream_info(subjects.EVENTS_STREAM)).config
    window = config.duplicate_window
    config.duplicate_window = 0.2
    await js.update_stream(config=config)
    await asyncio.sleep(1.5)
    config.duplicate_window = window
    await js.update_stream(config=config)


async def test_a_batch_with_an_id_claimed_for_other_content_publishes_nothing_and_claims_nothing(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    claimed = content(unique_id, f"{unique_id}-1", "claimed")
    await leave_claim(js, claimed)
    fresh = content(unique_id, f"{unique_id}-2", "fresh")
    resp = await client.post(EVENTS, json=[fresh, content(unique_id, f"{unique_id}-1", "forged")])
    assert resp.status_code == 409
    assert [(e["index"], e["field"]) for e in resp.json()["errors"]] == [(1, "id")]
    assert await stored(js, unique_id) == []
    # The fresh id was not left claimed: it takes any content now, and the claim its own.
    assert (
        await client.post(EVENTS, json=content(unique_id, f"{unique_id}-2", "fresh, changed"))
    ).json() == ACCEPTED
    assert (await client.post(EVENTS, json=claimed)).json() == ACCEPTED
    assert sorted(await stored(js, unique_id)) == [
        (f"{unique_id}-1", "claimed"),
        (f"{unique_id}-2", "fresh, changed"),
    ]


async def test_concurrent_sends_of_one_batch_publish_each_event_once(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    """A sender retrying a whole request while the first is still in flight (or two replicas given
    the same batch): every event is stored once and counted once as accepted over both answers."""
    batch = [content(unique_id, f"{unique_id}-{n}", f"event {n}") for n in range(20)]
    answers = await asyncio.gather(*(client.post(EVENTS, json=batch) for _ in range(4)))
    assert [a.status_code for a in answers] == [202] * 4
    assert sum(a.json()["accepted"] for a in answers) == 20
    assert sum(a.json()["duplicates"] for a in answers) == 60
    assert sorted(await stored(js, unique_id)) == sorted((e["id"], e["data"]["title"]) for e in batch)


async def test_a_batch_losing_a_race_for_one_id_leaves_its_other_ids_free(
    replicas: list[str], js: JetStreamContext, unique_id: str
) -> None:
    """A batch refused with 409 because another request claimed one of its ids first publishes
    nothing and withdraws the claims it made: its other ids take any content afterwards."""
    async with httpx.AsyncClient(headers=bearer(INGEST_TOKEN), timeout=30) as http:
        lost = 0
        for pair in range(30):
            incident = f"{unique_id}-{pair}"
            own = [content(incident, f"{incident}-own{n}", "batch") for n in range(5)]
            shared, forged = (content(incident, f"{incident}-x", title) for title in ("batch", "single"))
            batch, single = await asyncio.gather(
                http.post(f"{replicas[0]}{EVENTS}", json=[*own, shared]),
                http.post(f"{replicas[1]}{EVENTS}", json=forged),
            )
            assert sorted((batch.status_code, single.status_code)) == [202, 409]
            retitled = [content(incident, e["id"], "changed") for e in own]
            again = await http.post(f"{replicas[0]}{EVENTS}", json=retitled)
            if batch.status_code == 409:
                lost += 1
                assert again.json() == {"accepted": 5, "duplicates": 0}
                expected = [(e["id"], "changed") for e in own] + [(f"{incident}-x", "single")]
            else:
                assert again.status_code == 409
                expected = [(e["id"], "batch") for e in [*own, shared]]
            assert sorted(await stored(js, incident)) == sorted(expected)
        assert 0 < lost < 30, "the race never went one way: the test shows nothing"
