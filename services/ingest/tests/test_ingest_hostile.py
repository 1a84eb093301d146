"""Hostile input through the real ingest app (HTTP and the ``majorops.ingest`` NATS request subject)
against a real nats-server.

Every refusal is a precise 4xx RFC 9457 problem document naming what is wrong, publishes nothing,
and leaves no error or traceback in the logs; what is valid is accepted whole. Property-based
(hypothesis: valid envelopes of every event type, mutated into invalid ones at the object and at the
byte level) and named cases, one per rule of docs/contract-extensions.md ("Hostile input").
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from majorops.ingest.adapters.seen_entries import seen_key
from majorops.ingest.bootstrap import create_app
from majorops.ingest.config import IngestSettings
from majorops.ingest.domain.alertmanager import group_incident_id
from majorops.ingest.domain.batch import MAX_ALERTMANAGER_BODY_BYTES, MAX_BODY_BYTES
from majorops.shared import subjects
from majorops.shared.events import (
    AUTH_ATTRIBUTES,
    EVENT_DATA_MODELS,
    MAX_YEAR,
    MIN_YEAR,
    EventData,
    StatusPosted,
    VendorRcaCommitted,
    validate_event,
)
from majorops.shared.json_body import MAX_JSON_DEPTH
from majorops.shared.testing import (
    INGEST_TOKEN,
    TOKEN_SETTINGS,
    consumed_messages,
    event_envelope,
    msg_id_of,
    problem_of,
    purge_incidents,
)
from majorops.shared.testkit import app_client, connected_nats

EVENTS = "/v1/events"
ALERTMANAGER = "/v1/webhooks/alertmanager"
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""Bounded and reproducible: the same examples on every run, none stored in the repository."""

pytestmark = pytest.mark.usefixtures("no_error_logged")


# --- logs: no error, no traceback --------------------------------------------------------------------


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


# --- helpers -----------------------------------------------------------------------------------------


def fields_of(doc: dict[str, Any]) -> set[str]:
    return {e["field"] for e in doc.get("errors", [])}


async def stored(js: JetStreamContext, incident: str) -> list[Any]:
    """What the events stream holds for one incident (read back as a new subscriber would)."""
    return await consumed_messages(
        js, subjects.EVENTS_STREAM, f"{subjects.EVENTS_ROOT}.{incident}.>", 256, 0.1
    )


async def nats_answer(nc: NatsClient, body: bytes) -> Any:
    reply = await nc.request(subjects.INGEST_REQUEST, body, timeout=10)
    return json.loads(reply.data)


def declared(incident: str, event_id: str | None = None, **data: Any) -> dict[str, Any]:
    data = data or {"title": "Checkout latency", "severity": "P1"}
    return event_envelope(
        incident,
        f"{incident}-1" if event_id is None else event_id,
        "majorops.incident.declared",
        "2026-11-20T09:14:00Z",
        data,
    )


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def am_alert(fingerprint: str, starts_at: str = "2026-11-27T06:00:00Z", **labels: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "NodeDown", "severity": "critical", **labels},
        "annotations": {"summary": "Node down"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": fingerprint,
    }


def am_payload(group_key: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": group_key,
        "status": "firing",
        "receiver": "majorops",
        "groupLabels": {"alertname": "NodeDown"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": list(alerts),
    }


# --- strategies: valid envelopes of every type --------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=16).filter(str.strip)
PLAIN = st.text(st.characters(exclude_categories=("Cs",)), max_size=16)
OFFSETS = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(-timedelta(hours=8)),
        timezone(timedelta(hours=14)),
    ]
)
TIMES = st.builds(
    lambda moment, zulu: moment.isoformat().replace("+00:00", "Z") if zulu else moment.isoformat(),
    st.datetimes(datetime(MIN_YEAR, 1, 2), datetime(MAX_YEAR, 12, 30), timezones=OFFSETS),
    st.booleans(),
)
DATES = st.dates(date(MIN_YEAR, 1, 1), date(MAX_YEAR, 12, 31)).map(date.isoformat)
INT64 = st.integers(-(2**63), 2**63 - 1)
SCALARS = st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False) | PLAIN
EXTRA_KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
ID_TAILS = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda tail: tail == tail.strip())
BOOLEAN_FIELDS = {
    "external_impact",
    "customer_impact",
    "regulatory_exposure",
    "unusual",
    "vendor_related",
}


def field_values(model: type[EventData], name: str) -> st.SearchStrategy[Any]:
    """Valid values of one ``data`` field of an event type (CONTRACT §1)."""
    if name == "severity":
        return st.sampled_from(["critical", "high", "medium", "low", "P1", "p2", "P3", "Critical", "LOW"])
    if name == "sla_status":
        return st.sampled_from(["met", "at_risk", "breached"])
    if name == "audience" and model is StatusPosted:
        return st.sampled_from(["public", "internal"])
    if name in {"customer_count", "affected_users", "response_sla_minutes"}:
        return st.integers(0, 10**9)
    if name == "revenue_exposure":
        return st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False)
    if name in BOOLEAN_FIELDS:
        return st.booleans()
    if name == "due":
        return TIMES if model is VendorRcaCommitted else TIMES | DATES
    if name == "meeting_at":
        return TIMES
    if name == "item_id":
        return st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}", fullmatch=True)
    if name == "contributing_factors":
        return st.lists(TEXT, max_size=3)
    if name == "action_items":
        item = st.fixed_dictionaries({"title": TEXT}, optional={"owner": TEXT, "due": TIMES | DATES})
        return st.lists(item, max_size=3)
    if name in {"notes", "reason"}:
        return PLAIN
    return TEXT


def valid_for(model: type[EventData], data: dict[str, Any]) -> bool:
    try:
        model.model_validate(data)
    except ValueError:
        return False
    return True


@st.composite
def data_of(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    model = EVENT_DATA_MODELS[event_type]
    fields = model.model_fields
    required = {name: field_values(model, name) for name, f in fields.items() if f.is_required()}
    optional = {name: field_values(model, name) for name, f in fields.items() if not f.is_required()}
    known = draw(st.fixed_dictionaries(required, optional=optional))
    if not valid_for(model, known) and optional:  # "needs at least one of": give it one
        name = draw(st.sampled_from(sorted(optional)))
        known[name] = draw(optional[name])
    assume(valid_for(model, known))
    # Unknown extra fields are kept (CONTRACT §1), whatever their JSON value.
    extra = draw(st.dictionaries(EXTRA_KEYS.filter(lambda key: key not in fields), SCALARS, max_size=2))
    return {**extra, **known}


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """A valid envelope of any event type; :func:`place` gives it its incident."""
    event_type = draw(st.sampled_from(sorted(EVENT_DATA_MODELS)))
    envelope = event_envelope(
        "PLACEHOLDER", draw(ID_TAILS), event_type, draw(TIMES), draw(data_of(event_type)), draw(TEXT)
    )
    if draw(st.booleans()):
        envelope["datacontenttype"] = "application/json"
    return envelope


def place(envelope: dict[str, Any], incident: str) -> dict[str, Any]:
    """The envelope in this incident, its id made unique to it (ids are remembered for good)."""
    return {**envelope, "subject": incident, "id": f"{incident}:{envelope['id']}"}


@pytest.fixture
def incidents(unique_id: str) -> Iterator[str]:
    """A fresh incident per example of a test (all purged after it by the ``js`` fixture), so that
    what one example published never counts in another, shrinking's replays included."""
    return (f"{unique_id}-{n}" for n in itertools.count())


# --- strategies: mutations into invalid envelopes -----------------------------------------------------

REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "time", "subject")
BAD_VALUES: dict[str, list[Any]] = {
    "specversion": ["0.3", "1", 1.0, None],
    "id": [
        "",
        "x" * 129,
        5,
        None,
        "a\r\nNats-Expected-Stream: other",
        "a\nb",
        "a\x00b",
        "\t",
        " a",
        "a ",
        "a\u2028b",
        "a\x85b",
    ],
    "source": ["", 7, None],
    "type": ["majorops.incident.declare", "incident.declared", "majorops.incident.declared\n", 7],
    "time": [
        "2026-11-20T09:14:00",
        "2026-11-20",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "3000-01-01T00:00:00Z",
        1763630040,
        "2026-11-20T09:14:00Z\n",
        "２０２６-11-20T09:14:00Z",
        "2026-13-01T00:00:00Z",
        "2026-11-20T09:14:00+24:00",
    ],
    "subject": ["INC.1", "INC*", "INC>", "INC 1", "INCé", "INC-1\n", "", "-INC", "x" * 65, "a.>"],
    "data": [[], "text", 1, None],
}
STORE_KEYS = ["$where", "$gt", "$", "a.b", ".", "k\x00", "\x00"]


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["drop", "value", "store_key", "auth", "missing_data", "data_type"]))
    if kind == "drop":
        return kind, draw(st.sampled_from(REQUIRED_ATTRIBUTES))
    if kind == "value":
        attribute = draw(st.sampled_from(sorted(BAD_VALUES)))
        return kind, (attribute, draw(st.sampled_from(BAD_VALUES[attribute])))
    if kind == "store_key":
        return kind, (draw(st.sampled_from(STORE_KEYS)), draw(st.sampled_from(["top", "object", "list"])))
    if kind == "auth":
        return kind, draw(st.sampled_from(AUTH_ATTRIBUTES))
    return kind, None


def mutate(envelope: dict[str, Any], mutation: tuple[str, Any]) -> tuple[dict[str, Any], str]:
    """The envelope made invalid, and the field the 422 must name (a prefix of it, for data)."""
    kind, arg = mutation
    out = copy.deepcopy(envelope)
    if kind == "drop":
        del out[arg]
        return out, arg
    if kind == "value":
        attribute, value = arg
        out[attribute] = value
        return out, attribute
    if kind == "store_key":
        key, where = arg
        if where == "top":
            out["data"][key] = 1
            return out, f"data.{key}"
        if where == "object":
            out["data"]["nested"] = {"ok": 1, key: 1}
            return out, f"data.nested.{key}"
        out["data"]["nested"] = [{"ok": 1}, {key: "x"}]
        return out, f"data.nested[1].{key}"
    if kind == "auth":
        out[arg] = "someone-else"
        return out, arg
    model = EVENT_DATA_MODELS[out["type"]]
    required = [name for name, f in model.model_fields.items() if f.is_required()]
    if not required:
        out["data"] = ["not", "an", "object"]
        return out, "data"
    name = required[0]
    if kind == "missing_data":
        del out["data"][name]
    else:  # data_type: an object where a string, number, boolean or list belongs
        out["data"][name] = {"not": "this"}
    return out, f"data.{name}"


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
    fresh = place(declared(incident), incident) | {"id": f"{incident}:fresh"}
    conflict = problem_of(await client.post(EVENTS, content=dumps([fresh, *changed])), 409, "id-conflict")
    assert [(e["index"], e["field"]) for e in conflict["errors"]] == [(k + 1, "id")]
    assert repr(events[k]["id"]) in conflict["errors"][0]["message"]

    msgs = await stored(js, incident)
    assert sorted(msg_id_of(m) for m in msgs) == sorted(e["id"] for e in events)
    by_id = {json.loads(m.data)["id"]: json.loads(m.data) for m in msgs}
    for event in events:
        expected = validate_event(event).to_wire() | {"authtype": "api_key", "authid": "tests"}
        assert by_id[event["id"]] == expected


# --- property: every mutation of a valid envelope is refused, precisely, leaving no trace ----------


@settings(FUZZ, max_examples=50)
@given(envelope=envelopes(), mutation=mutations())
async def test_a_mutated_envelope_is_a_422_naming_the_field_and_leaves_no_trace(
    client: httpx.AsyncClient,
    js: JetStreamContext,
    incidents: Iterator[str],
    envelope: dict[str, Any],
    mutation: tuple[str, Any],
) -> None:
    incident = next(incidents)
    valid = place(envelope, incident)
    invalid, field = mutate(valid, mutation)
    single = problem_of(await client.post(EVENTS, content=dumps(invalid)), 422, "invalid-events")
    assert any(f.startswith(field) for f in fields_of(single)), (field, single["errors"])
    # In a batch, all or nothing: the valid event before it is not published either.
    other = place(declared(incident), incident) | {"id": f"{incident}:other"}
    batch = problem_of(await client.post(EVENTS, content=dumps([other, invalid])), 422, "invalid-events")
    assert {e["index"] for e in batch["errors"]} == {1}
    # Nothing of the refusals was published or remembered: the valid envelope is new, and alone.
    accepted = await client.post(EVENTS, content=dumps(valid))
    assert accepted.json() == {"accepted": 1, "duplicates": 0}, accepted.text[:600]
    assert [msg_id_of(m) for m in await stored(js, incident)] == [valid["id"]]


# --- property: byte-level damage is a 400 -------------------------------------------------------------

BYTE_DAMAGE = st.sampled_from(["truncate", "utf8", "constant", "number", "duplicate", "deep"])


def damaged(valid: dict[str, Any], kind: str, data: Any) -> tuple[bytes, str, str]:
    """The envelope's JSON text damaged, with the problem slug and a phrase the 400 must hold."""
    if kind == "truncate":
        raw = dumps(valid)
        return raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")], "not-json", ""
    if kind == "utf8":
        raw = dumps(valid)
        at = data.draw(st.integers(0, len(raw)), label="at")
        bad = data.draw(st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80"]), label="bytes")
        return raw[:at] + bad + raw[at:], "not-json", "not UTF-8"
    if kind in {"constant", "number"}:
        values = ["NaN", "Infinity", "-Infinity"] if kind == "constant" else ["1e999", "-1e400", "9" * 20]
        value = data.draw(st.sampled_from(values), label="value")
        marked = copy.deepcopy(valid)
        marked["data"]["marker"] = "@@MARK@@"
        return dumps(marked).replace(b'"@@MARK@@"', value.encode()), "not-json", value[:6]
    if kind == "duplicate":
        where = data.draw(st.sampled_from(["top", "data"]), label="where")
        key = data.draw(st.sampled_from(["id", "type", "subject", "time"] if where == "top" else ["x"]))
        marked = copy.deepcopy(valid)
        (marked if where == "top" else marked["data"])["zz_marker"] = 1
        repeat = f'"{key}":"forged","zz_marker":1'.encode()
        if where == "data":
            marked["data"]["x"] = "kept"
        raw = dumps(marked).replace(b'"zz_marker":1', repeat)
        return raw, "duplicate-key", key if where == "top" else "data.x"
    levels = data.draw(st.integers(MAX_JSON_DEPTH, 3000), label="levels")
    return b"[" * levels + dumps(valid) + b"]" * levels, "too-deep", ""


@settings(FUZZ, max_examples=30)
@given(envelope=envelopes(), kind=BYTE_DAMAGE, data=st.data())
async def test_damaged_json_is_a_400_saying_why_and_leaves_no_trace(
    client: httpx.AsyncClient,
    js: JetStreamContext,
    nc: NatsClient,
    incidents: Iterator[str],
    envelope: dict[str, Any],
    kind: str,
    data: Any,
) -> None:
    incident = next(incidents)
    valid = place(envelope, incident)
    raw, slug, phrase = damaged(valid, kind, data)
    doc = problem_of(await client.post(EVENTS, content=raw), 400, slug)
    if slug == "duplicate-key":
        assert fields_of(doc) == {phrase}
    else:
        assert phrase in doc["detail"]
    assert await nats_answer(nc, raw) == doc  # the NATS reply is the same JSON
    accepted = await client.post(EVENTS, content=dumps(valid))
    assert accepted.json() == {"accepted": 1, "duplicates": 0}, accepted.text[:600]
    assert [msg_id_of(m) for m in await stored(js, incident)] == [valid["id"]]


# --- property: any JSON value at all -----------------------------------------------------------------

JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(PLAIN, inner, max_size=4),
    max_leaves=24,
)


@settings(FUZZ, max_examples=50)
@given(body=JSON_VALUES)
async def test_any_json_value_is_answered_with_a_4xx_problem_and_nats_says_the_same(
    client: httpx.AsyncClient, nc: NatsClient, body: Any
) -> None:
    raw = dumps(body)
    resp = await client.post(EVENTS, content=raw)
    assert resp.status_code in {400, 422}, resp.text[:600]
    doc = problem_of(resp, resp.status_code)
    assert await nats_answer(nc, raw) == doc


# --- named cases: the body ---------------------------------------------------------------------------

TOO_DEEP_BODIES = {
    "10000 arrays": b"[" * 10_000 + b"]" * 10_000,
    "10000 objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "65 arrays": b"[" * 65 + b"]" * 65,
    "data nested 70 deep": dumps(declared("INC-1", title="t", severity="P1"))[:-2]
    + b',"x":'
    + b"[" * 70
    + b"]" * 70
    + b"}}",
}


@pytest.mark.parametrize("route", [EVENTS, ALERTMANAGER, "nats"])
@pytest.mark.parametrize("body", list(TOO_DEEP_BODIES.values()), ids=list(TOO_DEEP_BODIES))
async def test_a_body_nested_too_deeply_is_a_400(
    client: httpx.AsyncClient, nc: NatsClient, route: str, body: bytes
) -> None:
    if route == "nats":
        doc = await nats_answer(nc, body)
        assert doc["status"] == 400
        assert doc["type"].endswith("/too-deep")
    else:
        doc = problem_of(await client.post(route, content=body), 400, "too-deep")
    assert doc["title"] == "Body nested too deeply"
    assert f"more than {MAX_JSON_DEPTH} levels deep" in doc["detail"]


async def test_64_levels_are_still_json(client: httpx.AsyncClient) -> None:
    doc = problem_of(await client.post(EVENTS, content=b"[" * 64 + b"]" * 64), 422)
    assert doc["type"].endswith("/invalid-events")


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


NOT_JSON_BODIES: dict[str, tuple[bytes, str]] = {
    "invalid UTF-8": (b'{"specversion":"1.0","id":"\xff\xfe"}', "not UTF-8"),
    "UTF-16": ('{"specversion":"1.0"}'.encode("utf-16"), "not UTF-8"),
    "NaN": (
        dumps(declared("INC-1", title="t", severity="P1"))[:-2] + b',"x":NaN}}',
        "NaN is not a JSON value",
    ),
    "Infinity": (b'{"data":{"revenue_exposure":Infinity}}', "Infinity is not a JSON value"),
    "-Infinity": (b'[{"data":{"revenue_exposure":-Infinity}}]', "-Infinity is not a JSON value"),
    "1e999": (b'{"data":{"revenue_exposure":1e999}}', "'1e999' is out of range"),
    "integer beyond 64 bits": (b'{"data":{"affected_users":18446744073709551616}}', "beyond 64 bits"),
    "5000 digits": (b'{"data":{"affected_users":' + b"9" * 5000 + b"}}", "beyond 64 bits"),
    "lone surrogate": (b'{"id":"\\ud800"}', "lone UTF-16 surrogate"),
    "truncated": (b'{"specversion":"1.0",', "Expecting property name"),
}


@pytest.mark.parametrize("route", [EVENTS, ALERTMANAGER, "nats"])
@pytest.mark.parametrize("case", list(NOT_JSON_BODIES), ids=list(NOT_JSON_BODIES))
async def test_a_body_that_is_not_strict_json_is_a_400_saying_why(
    client: httpx.AsyncClient, nc: NatsClient, route: str, case: str
) -> None:
    body, phrase = NOT_JSON_BODIES[case]
    if route == "nats":
        http = problem_of(await client.post(EVENTS, content=body), 400, "not-json")
        assert await nats_answer(nc, body) == http
        return
    doc = problem_of(await client.post(route, content=body), 400, "not-json")
    assert doc["detail"].startswith("The request body could not be parsed as JSON: ")
    assert phrase in doc["detail"], doc["detail"]


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


DUPLICATE_KEYS: dict[str, tuple[bytes, str, str]] = {
    "id": (b'{"specversion":"1.0","id":"a","id":"b"}', "id", "id"),
    "severity in data": (
        b'{"data":{"severity":"low","title":"t","severity":"P1"}}',
        "data.severity",
        "severity",
    ),
    "in the second event": (b'[{"id":"a"},{"subject":"INC-1","subject":"INC-2"}]', "[1].subject", "subject"),
    "alertmanager label": (
        b'{"alerts":[{"labels":{"incident_id":"A","incident_id":"B"}}]}',
        "alerts[0].labels.incident_id",
        "incident_id",
    ),
}


@pytest.mark.parametrize("route", [EVENTS, ALERTMANAGER, "nats"])
@pytest.mark.parametrize("case", list(DUPLICATE_KEYS), ids=list(DUPLICATE_KEYS))
async def test_a_key_repeated_in_an_object_is_a_400_naming_it(
    client: httpx.AsyncClient, nc: NatsClient, route: str, case: str
) -> None:
    """Of two equal keys, Python would keep the last silently: a forged field hides that way."""
    body, field, key = DUPLICATE_KEYS[case]
    if route == "nats":
        doc = await nats_answer(nc, body)
        assert doc == problem_of(await client.post(EVENTS, content=body), 400, "duplicate-key")
    else:
        doc = problem_of(await client.post(route, content=body), 400, "duplicate-key")
    assert doc["errors"] == [{"field": field, "message": "appears more than once in its object"}]
    assert f"The key {key!r} appears more than once" in doc["detail"]


# --- named cases: the envelope ------------------------------------------------------------------------

STORE_KEY_DATA: dict[str, tuple[dict[str, Any], set[str]]] = {
    "$where": ({"$where": "sleep(1000)"}, {"data.$where"}),
    "$gt nested": ({"customer": {"count": {"$gt": 0}}}, {"data.customer.count.$gt"}),
    "dotted": ({"a.b": 1}, {"data.a.b"}),
    "in a list": ({"items": [{"ok": 1}, {"$set": {"x": 1}}]}, {"data.items[1].$set"}),
    "NUL": ({"k\x00": 1}, {"data.k\x00"}),
    "several": ({"$a": 1, "b.c": {"$d": 2}}, {"data.$a", "data.b.c", "data.b.c.$d"}),
}


@pytest.mark.parametrize("route", [EVENTS, "nats"])
@pytest.mark.parametrize("case", list(STORE_KEY_DATA), ids=list(STORE_KEY_DATA))
async def test_keys_a_document_store_interprets_are_a_422_naming_the_path(
    client: httpx.AsyncClient, js: JetStreamContext, nc: NatsClient, unique_id: str, route: str, case: str
) -> None:
    extra, fields = STORE_KEY_DATA[case]
    body = dumps(declared(unique_id, **{"title": "t", "severity": "P1", **extra}))
    http = problem_of(await client.post(EVENTS, content=body), 422, "invalid-events")
    if route == "nats":
        assert await nats_answer(nc, body) == http
    assert fields_of(http) == fields
    assert all(e["index"] == 0 for e in http["errors"])
    assert await stored(js, unique_id) == []


async def test_an_operator_in_an_extension_attribute_is_refused_and_in_an_alert_label_renamed(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    """A sender writes its own envelope: an operator key there is refused. Alertmanager cannot
    change a label name (Prometheus 3 allows any UTF-8) and would retry a refusal forever: ingest
    keeps such a label as Prometheus translates names, with ``_`` for what a store interprets."""
    event = declared(unique_id) | {"$where": "1"}
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


@pytest.mark.parametrize("subject", ["INC.1", "INC*", "INC>", "INC 1", "INC-é", "INC-1\n", "İNC", "a.>"])
async def test_a_subject_that_is_not_an_incident_id_is_a_422(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str, subject: str
) -> None:
    """The incident id is a token of NATS subjects: `.`, `*`, `>` and white space would change the
    subject the event is published on (and what a wildcard subscriber receives)."""
    doc = problem_of(await client.post(EVENTS, json=declared(unique_id) | {"subject": subject}), 422)
    assert fields_of(doc) == {"subject"}
    hook = am_payload(f'{{}}:{{test="{unique_id}"}}', am_alert("f1", incident_id=subject))
    doc = problem_of(await client.post(ALERTMANAGER, json=hook), 422)
    assert fields_of(doc) in ({"alerts[0].labels.incident_id"}, {"subject"})
    assert await stored(js, unique_id) == []


BAD_IDS = {
    "CR LF": "a\r\nNats-Expected-Stream: other",
    "LF": "a\nb",
    "NUL": "a\x00b",
    "tab": "a\tb",
    "DEL": "a\x7fb",
    "NEL": "a\x85b",
    "line separator": "a\u2028b",
    "leading space": " a",
    "trailing space": "a ",
    "leading no-break space": "\u00a0a",
    "empty": "",
    "129 characters": "x" * 129,
}


@pytest.mark.parametrize("route", [EVENTS, "nats"])
@pytest.mark.parametrize("case", list(BAD_IDS), ids=list(BAD_IDS))
async def test_an_id_unsafe_as_a_nats_header_is_a_422(
    client: httpx.AsyncClient, js: JetStreamContext, nc: NatsClient, unique_id: str, route: str, case: str
) -> None:
    body = dumps(declared(unique_id, BAD_IDS[case]))
    doc = problem_of(await client.post(EVENTS, content=body), 422, "invalid-events")
    if route == "nats":
        assert await nats_answer(nc, body) == doc
    assert fields_of(doc) == {"id"}
    assert await stored(js, unique_id) == []


@pytest.mark.parametrize("tail", ["ü-€-😀", "a:b/c#d", "a b", "*", ">", "a.b", "名前"])
async def test_an_id_with_any_other_characters_is_accepted_and_kept_as_sent(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str, tail: str
) -> None:
    event_id = f"{unique_id}:{tail}"
    resp = await client.post(EVENTS, json=declared(unique_id, event_id))
    assert resp.json() == {"accepted": 1, "duplicates": 0}
    [msg] = await stored(js, unique_id)
    assert msg_id_of(msg) == event_id
    assert json.loads(msg.data)["id"] == event_id
    again = await client.post(EVENTS, json=declared(unique_id, event_id))
    assert again.json() == {"accepted": 0, "duplicates": 1}


BAD_TIMES = {
    "no offset": ("2026-11-20T09:14:00", "with an offset"),
    "date only": ("2026-11-20", "with an offset"),
    "year 0001": ("0001-01-01T00:00:00Z", "year 0001 is out of range"),
    "year 9999": ("9999-12-31T23:59:59Z", "year 9999 is out of range"),
    "year 1969": ("1969-12-31T23:59:59Z", "year 1969 is out of range"),
    "year 3000": ("3000-01-01T00:00:00+14:00", "year 3000 is out of range"),
    "trailing newline": ("2026-11-20T09:14:00Z\n", "with an offset"),
    "full-width digits": ("２０２６-11-20T09:14:00Z", "with an offset"),
}


@pytest.mark.parametrize("case", list(BAD_TIMES), ids=list(BAD_TIMES))
async def test_a_time_without_offset_or_outside_the_years_1970_to_2999_is_a_422(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str, case: str
) -> None:
    value, phrase = BAD_TIMES[case]
    scheduled = event_envelope(
        unique_id,
        f"{unique_id}-s",
        "majorops.afteraction.scheduled",
        "2026-11-20T09:14:00Z",
        {"meeting_at": value},
    )
    committed = event_envelope(
        unique_id,
        f"{unique_id}-v",
        "majorops.vendor.rca_committed",
        "2026-11-20T09:14:00Z",
        {"vendor": "Acme", "due": value},
    )
    batch = [declared(unique_id) | {"time": value}, scheduled, committed]
    doc = problem_of(await client.post(EVENTS, json=batch), 422, "invalid-events")
    errors = {(e["index"], e["field"]): e["message"] for e in doc["errors"]}
    assert set(errors) == {(0, "time"), (1, "data.meeting_at"), (2, "data.due")}
    assert all(phrase in message for message in errors.values()), errors
    assert await stored(js, unique_id) == []


@pytest.mark.parametrize(
    ("due", "phrase"),
    [("9999-12-31", "year 9999"), ("0001-01-01", "year 0001"), ("9999-12-31T00:00:00Z", "year 9999")],
)
async def test_an_action_item_due_outside_the_years_1970_to_2999_is_a_422(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str, due: str, phrase: str
) -> None:
    """A plain date is due at the start of the next day: 9999-12-31 would overflow."""
    created = event_envelope(
        unique_id,
        f"{unique_id}-a",
        "majorops.actionitem.created",
        "2026-11-20T09:14:00Z",
        {"item_id": "AI-1", "title": "Add an alert", "due": due},
    )
    mtm = event_envelope(
        unique_id,
        f"{unique_id}-m",
        "majorops.mtm.held",
        "2026-11-20T09:14:00Z",
        {"action_items": [{"title": "Call the vendor", "due": due}]},
    )
    doc = problem_of(await client.post(EVENTS, json=[created, mtm]), 422, "invalid-events")
    errors = {(e["index"], e["field"]): e["message"] for e in doc["errors"]}
    assert set(errors) == {(0, "data.due"), (1, "data.action_items[0].due")}
    assert all(phrase in message for message in errors.values())
    assert await stored(js, unique_id) == []


async def test_an_alert_outside_the_years_is_a_422_naming_the_alert(
    client: httpx.AsyncClient, js: JetStreamContext, unique_id: str
) -> None:
    hook = am_payload(
        f'{{}}:{{test="{unique_id}"}}',
        am_alert("f0", incident_id=unique_id),
        am_alert("f1", "9999-12-31T23:59:59Z", incident_id=unique_id),
    )
    doc = problem_of(await client.post(ALERTMANAGER, json=hook), 422, "invalid-alertmanager-webhook")
    assert [(e["field"], e["message"]) for e in doc["errors"]] == [
        ("alerts[1].startsAt", "year 9999 is out of range: the years 1970–2999 are accepted")
    ]
    assert await stored(js, unique_id) == []


# --- named cases: the same id with other content --------------------------------------------------------


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

    first = declared(unique_id, f"{unique_id}-1")
    assert await send(first) == (202, {"accepted": 1, "duplicates": 0})
    # The same content again, in another key order and with the severity written another way.
    same = dict(reversed(first.items())) | {"data": {"severity": "critical", "title": "Checkout latency"}}
    assert await send(same) == (202, {"accepted": 0, "duplicates": 1})

    forged = declared(unique_id, f"{unique_id}-1", title="Checkout latency", severity="low")
    fresh = declared(unique_id, f"{unique_id}-2")
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
    resp = await client.post(EVENTS, json=declared(unique_id, f"{unique_id}-old"))
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
