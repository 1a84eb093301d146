"""``POST /v1/webhooks/<mapping>``: declarative webhook mappings, pure and through the real app.

The vendor payloads are the vendors' published examples (fixtures/webhooks, provenance in
fixtures/webhooks/SOURCES.md): PagerDuty's V3 webhook example from its developer documentation,
Opsgenie's Webhook integration "alert action data". Through the app they are posted with their ids
made unique per test, against the session's real nats-server.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from majorops.ingest.bootstrap import create_app
from majorops.ingest.config import IngestSettings
from majorops.ingest.domain.jsonpath import Found, NotFound, items, lookup, parse_path
from majorops.ingest.domain.mapping_model import MappingInvalid, WebhookMapping
from majorops.ingest.domain.mapping_payload import Mapped, epoch_to_rfc3339, event_id, map_payload
from majorops.ingest.domain.mapping_reader import parse_mapping
from majorops.ingest.mapping_files import SHIPPED_MAPPINGS, load_mapping_file, load_mappings
from majorops.shared import subjects
from majorops.shared.events import validate_event
from majorops.shared.problems import Problem
from majorops.shared.settings import EX_CONFIG, load_settings
from majorops.shared.testing import (
    INGEST_TOKEN,
    TOKEN_SETTINGS,
    bearer,
    connected_jetstream,
    purge_incidents,
    stored_messages,
)
from majorops.shared.testkit import app_client
from majorops.shared.webhook_signatures import WebhookSecret, signature_headers

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "webhooks"
DOC = Path(__file__).resolve().parents[3] / "docs" / "webhook-mappings.md"
PROBLEM = "application/problem+json"
VENDOR_SECRET = "vendor-signing-secret-0123"
PD_SEVERITY = {"P1": "critical", "P2": "high", "P3": "medium", "P4": "low", "P5": "low"}


def fixture(vendor: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / vendor / f"{name}.json").read_text())  # type: ignore[no-any-return]


def doc_example(marker: str) -> dict[str, Any]:
    """The JSON block after ``<!-- example <marker> -->`` in docs/webhook-mappings.md."""
    text = DOC.read_text()
    start = text.index("```json\n", text.index(f"<!-- example {marker} -->")) + len("```json\n")
    return json.loads(text[start : text.index("```", start)])  # type: ignore[no-any-return]


SHIPPED = load_mappings()


def mapped(name: str, payload: Any) -> Mapped:
    result = map_payload(SHIPPED[name], payload)
    assert not isinstance(result, Problem), result.as_dict()
    return result


def refused(mapping: WebhookMapping, payload: Any) -> dict[str, Any]:
    result = map_payload(mapping, payload)
    assert isinstance(result, Problem), result
    return result.as_dict()


MINIMAL_MAPPING: dict[str, Any] = {
    "kind": "$.what",
    "id": ["$.uid"],
    "subject": "$.incident",
    "time": "$.at",
    "source": "tests",
    "events": {"opened": {"type": "majorops.incident.confirmed"}},
}
"""A mapping with nothing but what every mapping needs."""


def mapping_of(**document: Any) -> WebhookMapping:
    return parse_mapping("tests", {**MINIMAL_MAPPING, **document})


# --- paths ----------------------------------------------------------------------------------------

PAYLOAD = {
    "a": {"b": "ab", "list": [10, 20, 30], "dotted.key": "dk", "it's": "quote", "nothing": None},
    "items": [{"id": "x"}, {"id": "y"}],
}


@pytest.mark.parametrize(
    ("path", "where", "value"),
    [
        ("$.a.b", "$.a.b", "ab"),
        ("$.a.list[0]", "$.a.list[0]", 10),
        ("$.a.list[-1]", "$.a.list[2]", 30),
        ("$['a']['dotted.key']", "$.a['dotted.key']", "dk"),
        ('$.a["it\'s"]', '$.a["it\'s"]', "quote"),
        ("$.items[1].id", "$.items[1].id", "y"),
        ("$", "$", PAYLOAD),
    ],
)
def test_every_path_form_finds_its_value(path: str, where: str, value: Any) -> None:
    assert lookup(parse_path(path), PAYLOAD, PAYLOAD) == Found(where, value)


def test_current_item_paths_and_wildcard_items() -> None:
    listed = items(parse_path("$.items[*]"), PAYLOAD)
    assert listed == [(("items", 0), {"id": "x"}), (("items", 1), {"id": "y"})]
    steps, item = listed[1]  # type: ignore[index]
    assert lookup(parse_path("@.id"), PAYLOAD, item, steps) == Found("$.items[1].id", "y")
    assert lookup(parse_path("@.gone"), PAYLOAD, item, steps) == NotFound("$.items[1].gone", "not found")
    assert items(parse_path("$.a[*]"), PAYLOAD) == NotFound("$.a", "is an object, not an array")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("$.a.missing", "not found"),
        ("$.a.nothing", "is null"),
        ("$.a.b.c", "not found ($.a.b is a string, not an object)"),
        ("$.a.list[3]", "not found ($.a.list has 3 element(s))"),
        ("$.a[0]", "not found ($.a is an object, not an array)"),
    ],
)
def test_a_path_that_leads_nowhere_says_where_and_why(path: str, reason: str) -> None:
    assert lookup(parse_path(path), PAYLOAD, PAYLOAD) == NotFound(path, reason)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("event.id", "must start with '$'"),
        ("$.event..id", "a name must follow the '.'"),
        ("$.a[x]", "is not an index"),
        ("$.a['open", "is not closed"),
        ("$.a b", "unexpected ' '"),
        ("$.a[1", "is not closed"),
        ("", "non-empty"),
    ],
)
def test_malformed_paths_are_refused_with_the_reason(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_path(path)


# --- values, tables, ids, times -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "urgency", "severity"),
    [
        *((p, "low", s) for p, s in PD_SEVERITY.items()),
        (None, "high", "high"),
        (None, "low", "low"),
        ("SEV-1", "high", "high"),  # an account's own priority name: the urgency decides
    ],
)
def test_pagerduty_priority_else_urgency_is_the_severity(
    priority: str | None, urgency: str, severity: str
) -> None:
    payload = fixture("pagerduty", "incident.triggered")
    data = payload["event"]["data"]
    data["priority"] = None if priority is None else {**data["priority"], "summary": priority}
    data["urgency"] = urgency
    [event] = mapped("pagerduty", payload).events
    assert event["type"] == "majorops.incident.declared"
    assert event["data"]["severity"] == severity
    assert validate_event(event).data["severity"] == severity


@pytest.mark.parametrize(("priority", "severity"), [*PD_SEVERITY.items(), (None, "medium")])
def test_opsgenie_priority_is_the_severity_p3_when_none(priority: str | None, severity: str) -> None:
    payload = fixture("opsgenie", "create")
    if priority is not None:
        payload["alert"]["priority"] = priority
    fired, updated = mapped("opsgenie", payload).events
    assert updated["type"] == "majorops.incident.updated"
    assert updated["data"]["severity"] == severity
    assert fired["data"].get("priority") == priority


def test_a_value_not_in_the_table_is_a_422_naming_the_path_and_the_table() -> None:
    payload = fixture("opsgenie", "create")
    payload["alert"]["priority"] = "P9"
    problem = refused(SHIPPED["opsgenie"], payload)
    assert problem["status"] == 422 and problem["mapping"] == "opsgenie"
    assert problem["errors"] == [
        {
            "field": "$.alert.priority",
            "message": "'P9' is not in the mapping's table (one of 'P1', 'P2', 'P3', 'P4', 'P5')",
        }
    ]


def test_neither_alternative_gives_a_severity() -> None:
    payload = fixture("pagerduty", "incident.triggered")
    payload["event"]["data"]["priority"] = None
    del payload["event"]["data"]["urgency"]
    [error] = refused(SHIPPED["pagerduty"], payload)["errors"]
    assert error["field"] == "$.event.data.priority.summary"
    assert error["message"] == (
        "none of the alternatives gives a value ($.event.data.priority.summary: not found "
        "($.event.data.priority is null, not an object); $.event.data.urgency: not found)"
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda e: e["data"].pop("id"), "$.event.data.id", "not found"),
        (
            lambda e: e.update(data="gone"),
            "$.event.data.id",
            "not found ($.event.data is a string, not an object)",
        ),
        (lambda e: e.pop("id"), "$.event.id", "not found"),
        (lambda e: e.update(occurred_at="yesterday"), "$.event.occurred_at", "as time: must be an RFC 3339"),
        (lambda e: e["data"].update(title=7), "$.event.data.title", "as data.title: must be a string"),
        (lambda e: e["data"].update(title="  "), "$.event.data.title", "is blank"),
        (lambda e: e["data"].update(id="P/1"), "$.event.data.id", "as subject: String should match pattern"),
        (lambda e: e.pop("event_type"), "$.event.event_type", "not found"),
        (lambda e: e.update(event_type={"x": 1}), "$.event.event_type", "is an object; the kind of an event"),
    ],
)
def test_a_broken_payload_is_a_422_naming_the_path(change: Any, field: str, message: str) -> None:
    payload = fixture("pagerduty", "incident.triggered")
    change(payload["event"])
    problem = refused(SHIPPED["pagerduty"], payload)
    assert problem["type"].endswith("/webhook-mapping-failed")
    assert "'pagerduty'" in problem["detail"] and problem["mapping"] == "pagerduty"
    assert any(e["field"] == field and e["message"].startswith(message) for e in problem["errors"]), problem


def test_unmapped_kinds_are_ignored_with_the_reason() -> None:
    payload = fixture("pagerduty", "incident.triggered")
    payload["event"]["event_type"] = "incident.annotated"
    result = mapped("pagerduty", payload)
    assert result.events == []
    [ignored] = result.ignored
    assert ignored.as_dict() == {
        "index": 0,
        "kind": "incident.annotated",
        "reason": "the mapping 'pagerduty' has no rule for $.event.event_type = 'incident.annotated' (it maps "
        "one of 'incident.triggered', 'incident.acknowledged', 'incident.priority_updated', 'incident.resolved')",
    }


def test_prefix_and_replace_make_a_vendor_id_an_incident_id() -> None:
    mapping = mapping_of(subject={"path": "$.ticket", "replace": {"/": "-", " ": "_"}, "prefix": "TCK-"})
    sent = {"what": "opened", "uid": "u1", "at": "2026-11-20T09:14:00Z"}
    [event] = map_payload(mapping, {**sent, "ticket": "OPS/10 42"}).events  # type: ignore[union-attr]
    assert event["subject"] == "TCK-OPS-10_42"
    [event] = map_payload(mapping, {**sent, "ticket": 1042}).events  # type: ignore[union-attr]
    assert event["subject"] == "TCK-1042"
    [error] = refused(mapping, {**sent, "ticket": "OPS.1042"})["errors"]
    assert error["field"] == "$.ticket" and error["message"].startswith("as subject: String should match")


def test_several_events_per_payload_all_or_nothing() -> None:
    mapping = mapping_of(items="$.events[*]", kind="@.what", id=["@.uid"], subject="@.incident", time="@.at")
    event = {"what": "opened", "incident": "INC-1", "at": "2026-11-20T09:14:00Z"}
    payload = {
        "events": [{**event, "uid": "a"}, {**event, "what": "noted", "uid": "b"}, {**event, "uid": "c"}]
    }
    result = map_payload(mapping, payload)
    assert isinstance(result, Mapped)
    assert [e["id"] for e in result.events] == ["tests:a:incident.confirmed", "tests:c:incident.confirmed"]
    assert [(i.index, i.kind) for i in result.ignored] == [(1, "noted")]
    del payload["events"][2]["uid"]
    assert refused(mapping, payload)["errors"] == [
        {"field": "$.events[2].uid", "message": "not found", "index": 2}
    ]
    assert map_payload(mapping, {"events": []}) == Mapped()
    assert refused(mapping, {"events": {}})["errors"] == [
        {"field": "$.events", "message": "is an object, not an array"}
    ]


def test_event_ids_are_derived_deterministically_and_fit_the_contract() -> None:
    assert event_id("pagerduty", ["5ac6"], "majorops.incident.declared") == "pagerduty:5ac6:incident.declared"
    # Parts are kept apart: ':' in a part cannot make two different events one id.
    assert event_id("m", ["a:b", "c"], "majorops.x.y") != event_id("m", ["a", "b:c"], "majorops.x.y")
    long = event_id("m", ["x" * 200], "majorops.incident.declared")
    assert long == event_id("m", ["x" * 200], "majorops.incident.declared")
    assert len(long) <= 128 and long.startswith("m:") and long.endswith(":incident.declared")
    assert "\n" not in event_id("m", ["a\nb"], "majorops.x.y")


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (1420452193166002000, "epoch_ns", "2015-01-05T10:03:13.166002Z"),
        (1420452191104, "epoch_ms", "2015-01-05T10:03:11.104000Z"),
        ("1795166040", "epoch_s", "2026-11-20T09:14:00Z"),
        (1795166040.5, "epoch_s", "2026-11-20T09:14:00.500000Z"),
        (1795166040000000, "epoch_us", "2026-11-20T09:14:00Z"),
        (-1, "epoch_s", None),
        (10**13, "epoch_s", None),
        ("soon", "epoch_s", None),
        (True, "epoch_s", None),
        (1e308, "epoch_s", None),
    ],
)
def test_unix_times_become_rfc3339(value: Any, fmt: str, expected: str | None) -> None:
    assert epoch_to_rfc3339(value, fmt) == expected


def test_vendor_fixtures_make_the_expected_events() -> None:
    triggered = mapped("pagerduty", fixture("pagerduty", "incident.triggered")).events
    assert triggered == [
        {
            "specversion": "1.0",
            "id": "pagerduty:5ac64822-4adc-4fda-ade0-410becf0de01:incident.declared",
            "type": "majorops.incident.declared",
            "subject": "PD-PGR0VU2",
            "time": "2020-10-02T18:45:22.169Z",
            "source": "pagerduty",
            "datacontenttype": "application/json",
            "data": {
                "pagerduty_number": 2,
                "service": "API Service",
                "url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                "title": "A little bump in the road",
                "severity": "critical",
                "urgency": "high",
            },
        }
    ]
    kinds = {
        ("pagerduty", "incident.acknowledged"): ["majorops.incident.confirmed"],
        ("pagerduty", "incident.priority_updated"): ["majorops.incident.updated"],
        ("pagerduty", "incident.resolved"): ["majorops.incident.resolved"],
        ("opsgenie", "create"): ["majorops.alert.fired", "majorops.incident.updated"],
        ("opsgenie", "acknowledge"): ["majorops.incident.confirmed"],
        ("opsgenie", "close"): ["majorops.alert.resolved", "majorops.incident.resolved"],
    }
    for (vendor, name), types in kinds.items():
        events = mapped(vendor, fixture(vendor, name)).events
        assert [e["type"] for e in events] == types, name
        for event in events:
            validate_event(event)
    [acknowledged] = mapped("opsgenie", fixture("opsgenie", "acknowledge")).events
    assert acknowledged["subject"] == "OG-052652ac-5d1c-464a-812a-7dd18bbfba8c"
    assert acknowledged["time"] == "2015-01-05T10:03:44.764002Z"
    assert acknowledged["data"] == {
        "opsgenie_tiny_id": "23",
        "alias": "aliastest",
        "by": "fili@ifountain.com",
    }


def test_the_documented_example_maps_as_the_docs_say() -> None:
    result = map_payload(parse_mapping("helpline", doc_example("mapping")), doc_example("payload"))
    assert isinstance(result, Mapped)
    declared, resolved = result.events
    assert declared["subject"] == resolved["subject"] == "OPS-1042"
    assert declared["time"] == "2026-11-20T09:14:00Z" and declared["source"] == "helpline/acme"
    assert declared["data"] == {
        "ticket": "OPS/1042",
        "title": "Checkout latency",
        "severity": "critical",
        "customer_impact": True,
    }
    assert resolved["type"] == "majorops.incident.resolved" and resolved["time"] == "2026-11-20T11:15:00Z"
    assert [i.as_dict()["kind"] for i in result.ignored] == ["ticket.commented"]


# --- mapping files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("broken", '{"kind": ', "is not strict JSON"),
        ("twice", '{"kind": "$.a", "kind": "$.b"}', "appears more than once"),
        ("broken", "[]", "a mapping is a JSON object"),
        ("broken", "{}", "kind: is required; events: is required"),
        ("Upper", "{}", "the name 'Upper' must match"),
        ("alertmanager", "{}", "is taken by ingest's own /v1/webhooks/alertmanager"),
    ],
)
def test_a_malformed_mapping_file_is_refused_naming_the_file(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    file = tmp_path / f"{name}.json"
    file.write_text(text)
    with pytest.raises(ValueError, match="webhook mapping") as refusal:
        load_mapping_file(file)
    assert str(file) in str(refusal.value) and problem in str(refusal.value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"subject": "$.a..b"}, "subject: '$.a..b': a name must follow"),
        ({"kind": {"path": "$.a", "valeus": {}}}, "kind.valeus: unknown key"),
        ({"events": {"x": {"type": "majorops.incident.opened"}}}, "events.x.type: unknown event type"),
        ({"events": {"x": {"type": "majorops.incident.resolved", "data": {"a.b": 1}}}}, "events.x.data.a.b"),
        ({"time": {"path": "$.at", "format": "epoch_days"}}, "time.format: must be one of"),
        ({"subject": {"path": "$.a", "optional": True}}, "only a data field may be optional"),
        ({"subject": "$.items[*].id"}, "[*] is only for 'items'"),
        ({"items": "$.items"}, "'items' is a path from '$' with one [*]"),
        ({"id": []}, "id: must name at least one value"),
        ({"data": {"x": None}}, "data.x: a value is a path"),
        ({"data": {"x": {"path": "$.a", "value": 1}}}, "needs exactly one of 'path', 'value', 'first_of'"),
        (
            {
                "events": {
                    "x": [{"type": "majorops.incident.resolved"}, {"type": "majorops.incident.resolved"}]
                }
            },
            "events.x: makes the same event type twice",
        ),
    ],
)
def test_every_problem_of_a_mapping_is_named(change: dict[str, Any], problem: str) -> None:
    document = {**MINIMAL_MAPPING, **change}
    with pytest.raises(MappingInvalid) as refusal:
        parse_mapping("tests", document)
    assert problem in str(refusal.value)


def test_a_deployment_mapping_adds_to_and_replaces_the_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "helpline.json").write_text(json.dumps(doc_example("mapping")))
    pagerduty = json.loads((SHIPPED_MAPPINGS / "pagerduty.json").read_text())
    pagerduty["subject"]["prefix"] = "PAGE-"
    (tmp_path / "pagerduty.json").write_text(json.dumps(pagerduty))
    (tmp_path / "notes.txt").write_text("not a mapping")
    loaded = load_mappings(tmp_path)
    assert set(loaded) == {"helpline", "opsgenie", "pagerduty"}
    [event] = map_payload(loaded["pagerduty"], fixture("pagerduty", "incident.resolved")).events  # type: ignore[union-attr]
    assert event["subject"] == "PAGE-PGR0VU2"
    (tmp_path / "other.yaml").write_text("kind: x")
    with pytest.raises(ValueError, match="mappings are JSON files"):
        load_mappings(tmp_path)
    with pytest.raises(ValueError, match="not a directory"):
        load_mappings(tmp_path / "absent")


def test_a_mapping_that_cannot_be_used_stops_ingest_at_start_with_exit_78(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "helpline.json").write_text('{"kind": "$.what", "events": {}}')
    monkeypatch.setenv("MAJOROPS_INGEST_TOKENS", TOKEN_SETTINGS["ingest_tokens"])
    monkeypatch.setenv("MAJOROPS_WEBHOOK_MAPPINGS_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as stopped:
        load_settings(IngestSettings, "ingest")
    assert stopped.value.code == EX_CONFIG
    said = capsys.readouterr().err
    assert said.startswith("majorops ingest: refusing to start: webhook mapping ")
    assert str(tmp_path / "helpline.json") in said and "events: must be a non-empty object" in said
    monkeypatch.setenv("MAJOROPS_WEBHOOK_MAPPINGS_DIR", "")
    assert set(load_settings(IngestSettings, "ingest").webhook_mappings) == {"opsgenie", "pagerduty"}


# --- through the real app and nats-server ---------------------------------------------------------


@pytest.fixture
async def client(nats_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Ingest with the tests' token, a vendor that signs, and the documented example mapping."""
    (tmp_path / "helpline.json").write_text(json.dumps(doc_example("mapping")))
    tokens = f"{TOKEN_SETTINGS['ingest_tokens']},vendor:{VENDOR_SECRET}"
    app = create_app(IngestSettings(nats_url=nats_url, ingest_tokens=tokens, webhook_mappings_dir=tmp_path))
    async with app_client(app, INGEST_TOKEN, "http://ingest") as http:
        yield http


async def stored(nats_url: str, incident: str) -> list[tuple[str, dict[str, Any]]]:
    async with connected_jetstream(nats_url) as js:
        msgs = await stored_messages(js, subjects.EVENTS_STREAM, f"{subjects.EVENTS_ROOT}.{incident}.>")
    return [(m.subject, json.loads(m.data or b"")) for m in msgs]


async def purged(nats_url: str, *incidents: str) -> None:
    async with connected_jetstream(nats_url) as js:
        for incident in incidents:
            await purge_incidents(js, incident)


def pagerduty(name: str, incident: str, event: str) -> dict[str, Any]:
    """The published PagerDuty example with this test's incident and event ids."""
    payload = fixture("pagerduty", name)
    payload["event"]["data"]["id"] = incident
    payload["event"]["id"] = event
    return payload


async def test_pagerduty_webhooks_are_stored_as_our_events(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    incident = f"PD-{unique_id}"
    names = ["incident.triggered", "incident.acknowledged", "incident.priority_updated", "incident.resolved"]
    try:
        for n, name in enumerate(names):
            resp = await client.post(
                "/v1/webhooks/pagerduty", json=pagerduty(name, unique_id, f"{unique_id}-{n}")
            )
            assert resp.status_code == 202, resp.text
            assert resp.json() == {"accepted": 1, "duplicates": 0, "ignored": []}
        events = await stored(nats_url, incident)
        assert [subject for subject, _ in events] == [
            f"majorops.events.{incident}.incident.declared",
            f"majorops.events.{incident}.incident.confirmed",
            f"majorops.events.{incident}.incident.updated",
            f"majorops.events.{incident}.incident.resolved",
        ]
        declared = events[0][1]
        assert declared["id"] == f"pagerduty:{unique_id}-0:incident.declared"
        assert declared["subject"] == incident and declared["time"] == "2020-10-02T18:45:22.169Z"
        assert declared["data"]["title"] == "A little bump in the road"
        assert declared["data"]["severity"] == "critical"
        assert events[1][1]["data"]["by"] == "Tenex Engineer"
        assert {e["authid"] for _, e in events} == {"tests"}
        assert {e["authtype"] for _, e in events} == {"api_key"}
    finally:
        await purged(nats_url, incident)


async def test_opsgenie_webhooks_are_stored_as_our_events(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    alert_id = unique_id.lower()
    incident = f"OG-{alert_id}"
    try:
        for name in ("create", "acknowledge", "close"):
            payload = fixture("opsgenie", name)
            payload["alert"]["alertId"] = alert_id
            payload["alert"]["priority"] = "P1"
            resp = await client.post("/v1/webhooks/opsgenie", json=payload)
            assert resp.status_code == 202, resp.text
        events = await stored(nats_url, incident)
        assert [subject.removeprefix(f"majorops.events.{incident}.") for subject, _ in events] == [
            "alert.fired",
            "incident.updated",
            "incident.confirmed",
            "alert.resolved",
            "incident.resolved",
        ]
        fired, updated = events[0][1], events[1][1]
        assert fired["data"]["alert_name"] == " test alert" and fired["data"]["tags"] == ["tag1", "tag2"]
        assert updated["data"]["title"] == " test alert" and updated["data"]["severity"] == "critical"
        assert events[-1][1]["time"] == "2015-01-05T10:04:11.238002Z"
    finally:
        await purged(nats_url, incident)


async def test_a_resent_webhook_is_a_duplicate_and_a_changed_one_a_conflict(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    payload = pagerduty("incident.triggered", unique_id, f"{unique_id}-1")
    try:
        assert (await client.post("/v1/webhooks/pagerduty", json=payload)).json()["accepted"] == 1
        again = await client.post("/v1/webhooks/pagerduty", json=payload)
        assert again.status_code == 202
        assert again.json() == {"accepted": 0, "duplicates": 1, "ignored": []}
        # The same PagerDuty event id saying something else is refused, as on /v1/events.
        changed = copy.deepcopy(payload)
        changed["event"]["data"]["title"] = "Something else"
        conflict = await client.post("/v1/webhooks/pagerduty", json=changed)
        assert conflict.status_code == 409 and conflict.headers["content-type"] == PROBLEM
        assert len(await stored(nats_url, f"PD-{unique_id}")) == 1
    finally:
        await purged(nats_url, f"PD-{unique_id}")


async def test_an_unmapped_event_type_is_ignored_with_the_reason(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    payload = pagerduty("incident.triggered", unique_id, f"{unique_id}-1")
    payload["event"]["event_type"] = "incident.annotated"
    resp = await client.post("/v1/webhooks/pagerduty", json=payload)
    assert resp.status_code == 202
    answer = resp.json()
    assert answer["accepted"] == 0 and answer["duplicates"] == 0
    [ignored] = answer["ignored"]
    assert ignored["index"] == 0 and ignored["kind"] == "incident.annotated"
    assert "no rule for $.event.event_type = 'incident.annotated'" in ignored["reason"]
    assert await stored(nats_url, f"PD-{unique_id}") == []


async def test_a_broken_payload_is_a_422_naming_the_path_and_nothing_is_published(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    payload = pagerduty("incident.triggered", unique_id, f"{unique_id}-1")
    del payload["event"]["occurred_at"]
    resp = await client.post("/v1/webhooks/pagerduty", json=payload)
    assert resp.status_code == 422 and resp.headers["content-type"] == PROBLEM
    problem = resp.json()
    assert problem["mapping"] == "pagerduty"
    assert problem["errors"] == [{"field": "$.event.occurred_at", "message": "not found"}]
    assert await stored(nats_url, f"PD-{unique_id}") == []


async def test_several_events_of_one_delivery_by_a_deployment_mapping(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    payload = doc_example("payload")
    for event in payload["events"]:
        event["ticket"]["key"] = f"{unique_id}/1"
        event["uid"] = f"{unique_id}-{event['uid']}"
    incident = f"{unique_id}-1"
    try:
        resp = await client.post("/v1/webhooks/helpline", json=payload)
        assert resp.status_code == 202, resp.text
        assert resp.json()["accepted"] == 2 and [i["index"] for i in resp.json()["ignored"]] == [1]
        events = await stored(nats_url, incident)
        assert [e["type"] for _, e in events] == ["majorops.incident.declared", "majorops.incident.resolved"]
        assert events[0][1]["data"]["ticket"] == f"{unique_id}/1"
    finally:
        await purged(nats_url, incident)


async def test_unknown_mapping_is_404_and_without_a_token_401(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/webhooks/zendesk", json={"a": 1})
    assert resp.status_code == 404 and resp.headers["content-type"] == PROBLEM
    assert "'helpline', 'opsgenie', 'pagerduty'" in resp.json()["detail"]
    for name in ("pagerduty", "zendesk"):
        anonymous = await client.post(f"/v1/webhooks/{name}", json={"a": 1}, headers={"authorization": ""})
        assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
        wrong = await client.post(
            f"/v1/webhooks/{name}", json={"a": 1}, headers=bearer("not-a-token-anyone-issued")
        )
        assert wrong.status_code == 401


async def test_a_signed_webhook_records_its_signer_and_strict_json_and_size_hold(
    client: httpx.AsyncClient, nats_url: str, unique_id: str
) -> None:
    body = json.dumps(pagerduty("incident.resolved", unique_id, f"{unique_id}-1")).encode()
    signed = signature_headers([WebhookSecret(VENDOR_SECRET.encode())], "delivery-1", body, datetime.now(UTC))
    try:
        resp = await client.post(
            "/v1/webhooks/pagerduty",
            content=body,
            headers={"authorization": "", "content-type": "application/json", **signed},
        )
        assert resp.status_code == 202, resp.text
        [(_, event)] = await stored(nats_url, f"PD-{unique_id}")
        assert event["authid"] == "vendor"
    finally:
        await purged(nats_url, f"PD-{unique_id}")
    duplicate_key = await client.post(
        "/v1/webhooks/pagerduty",
        content=b'{"event": {}, "event": {}}',
        headers={"content-type": "application/json"},
    )
    assert duplicate_key.status_code == 400 and duplicate_key.json()["type"].endswith("/duplicate-key")
    too_large = await client.post("/v1/webhooks/pagerduty", content=b"[" + b"0," * 600_000 + b"0]")
    assert too_large.status_code == 413
