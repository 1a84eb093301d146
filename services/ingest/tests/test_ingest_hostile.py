"""Hostile input through the real ingest app (HTTP and the ``majorops.ingest`` NATS request subject)
against a real nats-server.

Every refusal is a precise 4xx RFC 9457 problem document naming what is wrong, publishes nothing,
and leaves no error or traceback in the logs; what is valid is accepted whole. Each rule of
docs/contract-extensions.md ("Hostile input") is tested case by case, and property-based, against
the pure validation in ``test_ingest_hostile_validation.py``; here one case of each kind goes
through HTTP (and Alertmanager's webhook, and NATS, where they apply), with what only the broker
shows: nothing published or remembered, the NATS reply the same as the HTTP answer, ``409``,
``413``, duplicates, and valid events of every type accepted whole (hypothesis, as there).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from majorops.ingest.adapters.seen_entries import seen_key
from majorops.ingest.bootstrap import create_app
from majorops.ingest.config import IngestSettings
from majorops.ingest.domain.alertmanager import group_incident_id
from majorops.ingest.domain.batch import MAX_ALERTMANAGER_BODY_BYTES, MAX_BODY_BYTES
from majorops.shared import subjects
from majorops.shared.events import validate_event
from majorops.shared.json_body import MAX_JSON_DEPTH
from majorops.shared.testing import (
    ALERT_YEARS_ERRORS,
    BAD_DUES,
    BAD_IDS,
    BAD_TIMES,
    DUPLICATE_KEYS,
    FUZZ,
    GOOD_ID_TAILS,
    INGEST_TOKEN,
    JSON_VALUES,
    NOT_JSON_BODIES,
    STORE_KEY_DATA,
    TOKEN_SETTINGS,
    TOO_DEEP_BODIES,
    alert_years_payload,
    am_alert,
    am_payload,
    consumed_messages,
    declared_envelope,
    due_batch,
    dumps,
    envelopes,
    fields_of,
    msg_id_of,
    mutate,
    place,
    problem_of,
    purge_incidents,
    timed_batch,
)
from majorops.shared.testkit import app_client, connected_nats

EVENTS = "/v1/events"
ALERTMANAGER = "/v1/webhooks/alertmanager"

pytestmark = pytest.mark.usefixtures("no_error_logged")


@pytest.fixture(scope="module")
async def client(nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with the tests' token (one for the module: it holds no state of a test); an
    exception inside the app fails the test rather than becoming a 500."""
    app = create_app(IngestSettings(nats_url=nats_url, **TOKEN_SETTINGS))
    async with app_client(app, INGEST_TOKEN, "http://ingest", timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    async with connected_nats(nats_url) as connection:
        yield connection


@pytest.fixture
def incidents(unique_id: str) -> Iterator[str]:
    """A fresh incident per example of a test (all purged after it by the ``js`` fixture), so that
    what one example published never counts in another, shrinking's replays included."""
    return (f"{unique_id}-{n}" for n in itertools.count())


# --- helpers -----------------------------------------------------------------------------------------


async def stored(js: JetStreamContext, incident: str) -> list[Any]:
    """What the events stream holds for one incident (read back as a new subscriber would)."""
    return await consumed_messages(
        js, subjects.EVENTS_STREAM, f"{subjects.EVENTS_ROOT}.{incident}.>", 256, 0.1
    )


async def nats_answer(nc: NatsClient, body: bytes) -> Any:
    reply = await nc.request(subjects.INGEST_REQUEST, body, timeout=10)
    return json.loads(reply.data)


async def answered(
    client: httpx.AsyncClient, nc: NatsClient, route: str, body: bytes, status: int, slug: str
) -> Any:
    """The problem a route answers ``body`` with; on ``nats``, the NATS reply, which must be the same
    JSON as ``/v1/events``' answer."""
    if route == "nats":
        http = problem_of(await client.post(EVENTS, content=body), status, slug)
        assert await nats_answer(nc, body) == http
        return http
    return problem_of(await client.post(route, content=body), status, slug)


async def left_no_trace(client: httpx.AsyncClient, js: JetStreamContext, valid: dict[str, Any]) -> None:
    """Nothing of a refusal was published or remembered: ``valid`` (its incident's only event) is
    new, and alone in the stream."""
    accepted = await client.post(EVENTS, content=dumps(valid))
    assert accepted.json() == {"accepted": 1, "duplicates": 0}, accepted.text[:600]
    assert [msg_id_of(m) for m in await stored(js, valid["subject"])] == [valid["id"]]


# --- property: valid envelopes of every type ----------------------------------------------------------


@settings(FUZZ, max_examples=20)
@given(batch=st.lists(envelopes(), min_size=1, max_size=4, unique_by=lambda e: e["id"]), data=st.data())
async def test_valid_events_of_every_type_are_accepted_whole_and_an_id_names_one_content(
    client: httpx.AsyncClient,
    js: JetStreamContext,
    incidents: Iterator[str],
    batch: list[dict[str, Any]],
    data: Any,
) -> None:
    incident = next(incidents)
    events = [place(e, incident) for e in batch]
    sent = await client.post(EVENTS, content=dumps(events))
    assert sent.status_code == 202, sent.text[:600]
    assert sent.json() == {"accepted": len(events), "duplicates": 0}
    again = await client.post(EVENTS, content=dumps(events))
    assert again.json() == {"accepted": 0, "duplicates": len(events)}

    # The same id with other content: refused whole, the fresh event beside it is not published.
    k = data.draw(st.integers(0, len(events) - 1), label="changed")
    changed = [dict(e) for e in events]
    changed[k]["source"] = f"{changed[k]['source']} (changed)"
    fresh = declared_envelope(incident, f"{incident}:fresh")
    conflict = problem_of(await client.post(EVENTS, content=dumps([fresh, *changed])), 409, "id-conflict")
    assert [(e["index"], e["field"]) for e in conflict["errors"]] == [(k + 1, "id")]
    assert repr(events[k]["id"]) in conflict["errors"][0]["message"]

    msgs = await stored(js, incident)
    assert sorted(msg_id_of(m) for m in msgs) == sorted(e["id"] for e in events)
    by_id = {json.loads(m.data)["id"]: json.loads(m.data) for m in msgs}
    for event in events:
        expected = validate_event(event).to_wire() | {"authtype": "api_key", "authid": "tests"}
        assert by_id[event["id"]] == expected


# --- property: any JSON value at all -----------------------------------------------------------------


@settings(FUZZ, max_examples=25)
@given(body=JSON_VALUES)
async def test_any_json_value_is_answered_with_a_4xx_problem_and_nats_says_the_same(
    client: httpx.AsyncClient, nc: NatsClient, body: Any
) -> None:
    raw = dumps(body)
    resp = await client.post(EVENTS, content=raw)
    assert resp.status_code in {400, 422}, resp.text[:600]
    doc = problem_of(resp, resp.status_code)
    assert await nats_answer(nc, raw) == doc


# --- one case of each kind: the body -----------------------------------------------------------------


@pytest.mark.parametrize("route", [EVENTS, ALERTMANAGER, "nats"])
async def test_a_body_that_is_not_strict_json_is_a_400_saying_why_and_leaves_no_trace(
    client: httpx.AsyncClient, js: JetStreamContext, nc: NatsClient, unique_id: str, route: str
) -> None:
    valid = declared_envelope(unique_id, f"{unique_id}-1")
    raw = dumps(valid)[:-2] + b',"x":NaN}}'
    doc = await answered(client, nc, route, raw, 400, "not-json")
    assert doc["detail"].startswith("The request body could not be parsed as JSON: ")
    assert NOT_JSON_BODIES["NaN"][1] in doc["detail"], doc["detail"]
    await left_no_trace(client, js, valid)


@pytest.mark.parametrize("route", [EVENTS, ALERTMANAGER, "nats"])
async def test_a_body_nested_too_deeply_is_a_400(
    client: httpx.AsyncClient, nc: NatsClient, route: str
) -> None:
    doc = await answered(client, nc, route, TOO_DEEP_BODIES["10000 arrays"], 400, "too-deep")
    assert doc["title"] == "Body nested too deeply"
    assert f"more than {MAX_JSON_DEPTH} levels deep" in doc["detail"]


@pytest.mark.parametrize("route", [EVENTS, ALERTMANAGER, "nats"])
async def test_a_key_repeated_in_an_object_is_a_400_naming_it(
    client: httpx.AsyncClient, nc: NatsClient, route: str
) -> None:
    """Of two equal keys, Python would keep the last silently: a forged field hides that way."""
    body, field, key = DUPLICATE_KEYS["alertmanager label" if route == ALERTMANAGER else "id"]
    doc = await answered(client, nc, route, body, 400, "duplicate-key")
    assert doc["errors"] == [{"field": field, "message": "appears more than once in its object"}]
    assert f"The key {key!r} appears more than once" in doc["detail"]


async def _chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 65536):
        yield b"x" * 65536


@pytest.mark.parametrize(
    ("route", "size", "limit"),
    [
        (EVENTS, 5 * 1024 * 1024, MAX_BODY_BYTES),
        (ALERTMANAGER, MAX_ALERTMANAGER_BODY_BYTES + 65536, MAX_ALERTMANAGER_BODY_BYTES),
    ],
    ids=["events 5 MB", "alertmanager over 16 MiB"],
)
@pytest.mark.parametrize("declared_length", [True, False], ids=["declared", "streamed"])
async def test_a_body_over_the_limit_is_a_413_before_it_is_read(
    client: httpx.AsyncClient, route: str, size: int, limit: int, declared_length: bool
) -> None:
    content: Any = b"x" * size if declared_length else _chunks(size)
    doc = problem_of(await client.post(route, content=content), 413, "too-large")
    assert f"exceeds {limit} bytes" in doc["detail"]


async def test_a_nats_request_over_1_mib_is_a_413(own_nats_url: str) -> None:
    """On a nats-server of its own, configured as ``majorops up``'s (``max_payload: 2MB``): a shared
    test server given by ``MAJOROPS_TEST_NATS_URL`` may refuse a message this big itself."""
    size = MAX_BODY_BYTES + 1024
    app = create_app(IngestSettings(nats_url=own_nats_url, **TOKEN_SETTINGS))
    async with app_client(app, INGEST_TOKEN, "http://ingest"), connected_nats(own_nats_url) as nc:
        assert nc.max_payload >= size
        doc = await nats_answer(nc, b" " * size)
    assert (doc["status"], doc["type"].rsplit("/", 1)[1]) == (413, "too-large")


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
@pytest.mark.parametrize("body", [b"[" * 10_000, b"{not json", b"\xff\xfe", b"[NaN]"])
async def test_a_nats_request_is_parsed_strictly_whatever_its_content_type_header_says(
    nc: NatsClient, content_type: str, body: bytes
) -> None:
    """FastStream would parse a body it is told is JSON (or text) itself, before ingest's handler,
    and fail without any answer; ingest takes the raw bytes."""
    reply = await nc.request(
        subjects.INGEST_REQUEST, body, timeout=10, headers={"content-type": content_type}
    )
    doc = json.loads(reply.data)
    assert doc["status"] == 400
    assert doc["type"].rsplit("/", 1)[1] in {"not-json", "too-deep"}


# --- one case of each kind: the envelope --------------------------------------------------------------


async def test_a_mutated_envelope_is_a_422_naming_the_field_and_leaves_no_trace(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    valid = declared_envelope(unique_id, f"{unique_id}-1")
    invalid, field = mutate(valid, ("data_type", None))
    single = problem_of(await client.post(EVENTS, content=dumps(invalid)), 422, "invalid-events")
    assert fields_of(single) == {field}
    # In a batch, all or nothing: the valid event before it is not published either.
    other = declared_envelope(unique_id, f"{unique_id}-other")
    batch = problem_of(await client.post(EVENTS, content=dumps([other, invalid])), 422, "invalid-events")
    assert {e["index"] for e in batch["errors"]} == {1}
    await left_no_trace(client, js, valid)


@pytest.mark.parametrize("route", [EVENTS, "nats"])
async def test_keys_a_document_store_interprets_are_a_422_naming_the_path(
    client: httpx.AsyncClient, js: JetStreamContext, nc: NatsClient, unique_id: str, route: str
) -> None:
    extra, fields = STORE_KEY_DATA["$gt nested"]
    body = dumps(declared_envelope(unique_id, f"{unique_id}-1", **extra))
    doc = await answered(client, nc, route, body, 422, "invalid-events")
    assert fields_of(doc) == fields
    assert await stored(js, unique_id) == []


async def test_an_operator_in_an_extension_attribute_is_refused_and_in_an_alert_label_renamed(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    """A sender writes its own envelope: an operator key there is refused. Alertmanager cannot
    change a label name (Prometheus 3 allows any UTF-8) and would retry a refusal forever: ingest
    keeps such a label as Prometheus translates names, with ``_`` for what a store interprets."""
    event = declared_envelope(unique_id, f"{unique_id}-1") | {"$where": "1"}
    doc = problem_of(await client.post(EVENTS, content=dumps(event)), 422, "invalid-events")
    assert fields_of(doc) == {"$where"}
    assert await stored(js, unique_id) == []
    hook = am_payload(
        f'{{}}:{{test="{unique_id}"}}', am_alert("f1", incident_id=unique_id, **{"$where": "1", "a.b": "2"})
    )
    assert (await client.post(ALERTMANAGER, content=dumps(hook))).status_code == 202
    [fired] = await stored(js, unique_id)
    labels = json.loads(fired.data)["data"]["labels"]
    assert (labels["_where"], labels["a_b"]) == ("1", "2")
    assert "$where" not in labels and "a.b" not in labels


async def test_a_subject_that_is_not_an_incident_id_is_a_422(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    """The incident id is a token of NATS subjects: `.`, `*`, `>` and white space would change the
    subject the event is published on (and what a wildcard subscriber receives)."""
    subject = f"{unique_id}.1"
    event = declared_envelope(unique_id, f"{unique_id}-1") | {"subject": subject}
    doc = problem_of(await client.post(EVENTS, json=event), 422, "invalid-events")
    assert fields_of(doc) == {"subject"}
    hook = am_payload(f'{{}}:{{test="{unique_id}"}}', am_alert("f1", incident_id=subject))
    doc = problem_of(await client.post(ALERTMANAGER, json=hook), 422, "invalid-alertmanager-webhook")
    assert fields_of(doc) == {"alerts[0].labels.incident_id"}
    assert await stored(js, unique_id) == []


@pytest.mark.parametrize("route", [EVENTS, "nats"])
async def test_an_id_unsafe_as_a_nats_header_is_a_422(
    client: httpx.AsyncClient, js: JetStreamContext, nc: NatsClient, unique_id: str, route: str
) -> None:
    body = dumps(declared_envelope(unique_id, BAD_IDS["CR LF"]))
    doc = await answered(client, nc, route, body, 422, "invalid-events")
    assert fields_of(doc) == {"id"}
    assert await stored(js, unique_id) == []


@pytest.mark.parametrize("tail", GOOD_ID_TAILS)
async def test_an_id_with_any_other_characters_is_accepted_and_kept_as_sent(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str, tail: str
) -> None:
    event_id = f"{unique_id}:{tail}"
    resp = await client.post(EVENTS, json=declared_envelope(unique_id, event_id))
    assert resp.json() == {"accepted": 1, "duplicates": 0}
    [msg] = await stored(js, unique_id)
    assert msg_id_of(msg) == event_id
    assert json.loads(msg.data)["id"] == event_id
    again = await client.post(EVENTS, json=declared_envelope(unique_id, event_id))
    assert again.json() == {"accepted": 0, "duplicates": 1}


async def test_a_time_outside_the_years_1970_to_2999_is_a_422(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    value, phrase = BAD_TIMES["year 3000"]
    doc = problem_of(await client.post(EVENTS, json=timed_batch(unique_id, value)), 422, "invalid-events")
    errors = {(e["index"], e["field"]): e["message"] for e in doc["errors"]}
    assert set(errors) == {(0, "time"), (1, "data.meeting_at"), (2, "data.due")}
    assert all(phrase in message for message in errors.values()), errors
    assert await stored(js, unique_id) == []


async def test_an_action_item_due_outside_the_years_1970_to_2999_is_a_422(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    due, phrase = BAD_DUES[0]
    doc = problem_of(await client.post(EVENTS, json=due_batch(unique_id, due)), 422, "invalid-events")
    errors = {(e["index"], e["field"]): e["message"] for e in doc["errors"]}
    assert set(errors) == {(0, "data.due"), (1, "data.action_items[0].due")}
    assert all(phrase in message for message in errors.values())
    assert await stored(js, unique_id) == []


async def test_an_alert_outside_the_years_is_a_422_naming_the_alert(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    hook = alert_years_payload(unique_id)
    doc = problem_of(await client.post(ALERTMANAGER, json=hook), 422, "invalid-alertmanager-webhook")
    assert [(e["field"], e["message"]) for e in doc["errors"]] == ALERT_YEARS_ERRORS
    assert await stored(js, unique_id) == []


# --- the same id with other content --------------------------------------------------------


@pytest.mark.parametrize("route", [EVENTS, "nats"])
async def test_the_same_id_with_other_content_is_a_409_and_nothing_of_the_request_is_published(
    client: httpx.AsyncClient, js: JetStreamContext, nc: NatsClient, unique_id: str, route: str
) -> None:
    async def send(body: Any) -> tuple[int, Any]:
        if route == "nats":
            answer = await nats_answer(nc, dumps(body))
            return answer.get("status", 202), answer
        resp = await client.post(EVENTS, content=dumps(body))
        return resp.status_code, resp.json()

    first = declared_envelope(unique_id, f"{unique_id}-1")
    assert await send(first) == (202, {"accepted": 1, "duplicates": 0})
    # The same content again, in another key order and with the severity written another way.
    same = dict(reversed(first.items())) | {"data": {"severity": "critical", "title": "Checkout latency"}}
    assert await send(same) == (202, {"accepted": 0, "duplicates": 1})

    forged = declared_envelope(unique_id, f"{unique_id}-1", severity="low")
    fresh = declared_envelope(unique_id, f"{unique_id}-2")
    status, doc = await send([fresh, forged])
    assert status == 409
    assert doc["type"].endswith("/id-conflict")
    assert doc["errors"] == [
        {
            "field": "id",
            "index": 1,
            "message": f"'{unique_id}-1' is already the id of an event accepted before, with other content",
        }
    ]
    assert "nothing was published" in doc["detail"]
    assert [msg_id_of(m) for m in await stored(js, unique_id)] == [f"{unique_id}-1"]
    # Within one request too, checked before anything is published.
    status, doc = await send([fresh, forged | {"id": f"{unique_id}-3"}, first | {"id": f"{unique_id}-3"}])
    assert status == 409
    assert [(e["index"], e["field"]) for e in doc["errors"]] == [(2, "id")]
    assert "event 1 of this request" in doc["errors"][0]["message"]
    assert [msg_id_of(m) for m in await stored(js, unique_id)] == [f"{unique_id}-1"]


async def test_an_id_recorded_before_digests_counts_as_the_same_content(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    """Ids ingest recorded before it kept content digests have the stream sequence as value."""
    kv = await js.key_value(subjects.INGEST_SEEN_BUCKET)
    await kv.put(seen_key(f"{unique_id}-old"), b"4711")
    resp = await client.post(EVENTS, json=declared_envelope(unique_id, f"{unique_id}-old"))
    assert resp.json() == {"accepted": 0, "duplicates": 1}
    assert await stored(js, unique_id) == []


async def test_an_alertmanager_repeat_with_changed_annotations_stays_a_duplicate(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    """Ids of alert events are derived by ingest (fingerprint, status, time); a repeat may carry an
    annotation with the current value, so the first content of an id wins there."""
    hook = am_payload(f'{{}}:{{test="{unique_id}"}}', am_alert(f"{unique_id}-f", incident_id=unique_id))
    assert (await client.post(ALERTMANAGER, json=hook)).json() == {"accepted": 1, "duplicates": 0}
    hook["alerts"][0]["annotations"]["value"] = "97%"
    assert (await client.post(ALERTMANAGER, json=hook)).json() == {"accepted": 0, "duplicates": 1}
    assert len(await stored(js, unique_id)) == 1


# --- named case: a large Alertmanager group -----------------------------------------------------------


async def test_an_alertmanager_group_of_5000_alerts_is_accepted_whole(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    """5,000 alerts in one notification is valid input: Alertmanager sends a large group's alerts in
    one request (``max_alerts`` is off by default) and cannot split it, and a refusal would be
    retried forever and lose the group. So the webhook takes up to 16 MiB (this one is about
    1.8 MB, over /v1/events' 1 MiB) and publishes every event of it in one request: 5,000 alert
    events and the group's incident update."""
    group_key = f'{{}}:{{alertname="NodeDown",test="{unique_id}"}}'
    incident = group_incident_id(group_key)
    hook = am_payload(group_key, *(am_alert(f"{unique_id}-{n:04d}", node=f"node-{n}") for n in range(5000)))
    body = dumps(hook)
    assert MAX_BODY_BYTES < len(body) < MAX_ALERTMANAGER_BODY_BYTES
    try:
        resp = await client.post(ALERTMANAGER, content=body)
        assert resp.status_code == 202, resp.text[:600]
        assert resp.json() == {"accepted": 5001, "duplicates": 0}
        info = await js.stream_info(
            subjects.EVENTS_STREAM, subjects_filter=f"{subjects.EVENTS_ROOT}.{incident}.>"
        )
        assert info.state.subjects == {
            f"{subjects.EVENTS_ROOT}.{incident}.alert.fired": 5000,
            f"{subjects.EVENTS_ROOT}.{incident}.incident.updated": 1,
        }
    finally:
        await purge_incidents(js, incident)
