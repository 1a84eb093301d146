"""Hostile input for ingest's tests: valid envelopes of every event type (hypothesis), the mutations
and byte-level damage that make them invalid, any JSON value, Alertmanager payloads, and the named
hostile cases of docs/contract-extensions.md ("Hostile input") with what the answer must say.

The same inputs serve the pure tests (``test_ingest_hostile_validation.py``: strict JSON and
validation, no broker) and those through HTTP and NATS against a real nats-server
(``test_ingest_hostile.py``). Builders and strategies only: nothing here sends anything.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

from majorops.shared.events import (
    AUTH_ATTRIBUTES,
    EVENT_DATA_MODELS,
    MAX_YEAR,
    MIN_YEAR,
    EventData,
    StatusPosted,
    VendorRcaCommitted,
)
from majorops.shared.json_body import MAX_JSON_DEPTH
from majorops.shared.testing.envelopes import declared_envelope, event_envelope

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""Bounded and reproducible: the same examples on every run, none stored in the repository."""


def fields_of(doc: dict[str, Any]) -> set[str]:
    """The fields a problem document's ``errors`` name."""
    return {e["field"] for e in doc.get("errors", [])}


def dumps(value: Any) -> bytes:
    """A body as a sender writes it: compact UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def am_alert(fingerprint: str, starts_at: str = "2026-11-27T06:00:00Z", **labels: str) -> dict[str, Any]:
    """A firing ``NodeDown`` alert of an Alertmanager notification; keywords add labels."""
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
    """An Alertmanager notification (payload version 4) of one group with these alerts."""
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

CHARACTERS = st.characters(exclude_categories=["Cs"])
"""Any character but a lone surrogate (not encodable as UTF-8)."""
TEXT = st.text(CHARACTERS, min_size=1, max_size=16).filter(str.strip)
PLAIN = st.text(CHARACTERS, max_size=16)
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
    """Valid ``data`` of an event type, with unknown extra fields (kept, CONTRACT §1)."""
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
    """How :func:`mutate` makes a valid envelope invalid."""
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


# --- strategies: byte-level damage, any JSON value ----------------------------------------------------

BYTE_DAMAGE = st.sampled_from(["truncate", "utf8", "constant", "number", "duplicate", "deep"])


def damaged(valid: dict[str, Any], kind: str, data: Any) -> tuple[bytes, str, str]:
    """The envelope's JSON text damaged (``data``: hypothesis' ``st.data()``), with the problem slug
    and a phrase the 400 must hold (for ``duplicate-key``, the field its error names)."""
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


JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(PLAIN, inner, max_size=4),
    max_leaves=24,
)
"""Any JSON value (none of them a valid body of events)."""


# --- named cases --------------------------------------------------------------------------------------

TOO_DEEP_BODIES = {
    "10000 arrays": b"[" * 10_000 + b"]" * 10_000,
    "10000 objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "65 arrays": b"[" * 65 + b"]" * 65,
    "data nested 70 deep": dumps(declared_envelope("INC-1", "INC-1-1"))[:-2]
    + b',"x":'
    + b"[" * 70
    + b"]" * 70
    + b"}}",
}
"""Bodies nested beyond :data:`~majorops.shared.json_body.MAX_JSON_DEPTH` levels: ``400 too-deep``."""

NOT_JSON_BODIES: dict[str, tuple[bytes, str]] = {
    "invalid UTF-8": (b'{"specversion":"1.0","id":"\xff\xfe"}', "not UTF-8"),
    "UTF-16": ('{"specversion":"1.0"}'.encode("utf-16"), "not UTF-8"),
    "NaN": (dumps(declared_envelope("INC-1", "INC-1-1"))[:-2] + b',"x":NaN}}', "NaN is not a JSON value"),
    "Infinity": (b'{"data":{"revenue_exposure":Infinity}}', "Infinity is not a JSON value"),
    "-Infinity": (b'[{"data":{"revenue_exposure":-Infinity}}]', "-Infinity is not a JSON value"),
    "1e999": (b'{"data":{"revenue_exposure":1e999}}', "'1e999' is out of range"),
    "integer beyond 64 bits": (b'{"data":{"affected_users":18446744073709551616}}', "beyond 64 bits"),
    "5000 digits": (b'{"data":{"affected_users":' + b"9" * 5000 + b"}}", "beyond 64 bits"),
    "lone surrogate": (b'{"id":"\\ud800"}', "lone UTF-16 surrogate"),
    "truncated": (b'{"specversion":"1.0",', "Expecting property name"),
}
"""Bodies that are not strict JSON, with a phrase of the ``400 not-json`` detail."""

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
"""Bodies with a key repeated in an object: the field the ``400 duplicate-key`` names, and the key."""

STORE_KEY_DATA: dict[str, tuple[dict[str, Any], set[str]]] = {
    "$where": ({"$where": "sleep(1000)"}, {"data.$where"}),
    "$gt nested": ({"customer": {"count": {"$gt": 0}}}, {"data.customer.count.$gt"}),
    "dotted": ({"a.b": 1}, {"data.a.b"}),
    "in a list": ({"items": [{"ok": 1}, {"$set": {"x": 1}}]}, {"data.items[1].$set"}),
    "NUL": ({"k\x00": 1}, {"data.k\x00"}),
    "several": ({"$a": 1, "b.c": {"$d": 2}}, {"data.$a", "data.b.c", "data.b.c.$d"}),
}
"""``data`` fields with keys a document store interprets, and the fields the ``422`` names."""

BAD_SUBJECTS = ["INC.1", "INC*", "INC>", "INC 1", "INC-é", "INC-1\n", "İNC", "a.>"]
"""Subjects that are not incident ids (tokens of NATS subjects)."""

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
"""Event ids unsafe as a NATS header value (or of the wrong length)."""

GOOD_ID_TAILS = ["ü-€-😀", "a:b/c#d", "a b", "*", ">", "a.b", "名前"]
"""What an event id may hold besides: accepted and kept as sent."""

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
"""Times without an offset or outside the years 1970–2999, with a phrase of the ``422``'s error."""


def timed_batch(incident: str, value: str) -> list[dict[str, Any]]:
    """Three events with the time ``value`` where each kind of time stands: the envelope's ``time``
    (0), an After Action's ``meeting_at`` (1), a vendor's RCA ``due`` (2)."""
    scheduled = event_envelope(
        incident,
        f"{incident}-s",
        "majorops.afteraction.scheduled",
        "2026-11-20T09:14:00Z",
        {"meeting_at": value},
    )
    committed = event_envelope(
        incident,
        f"{incident}-v",
        "majorops.vendor.rca_committed",
        "2026-11-20T09:14:00Z",
        {"vendor": "Acme", "due": value},
    )
    return [declared_envelope(incident, f"{incident}-1") | {"time": value}, scheduled, committed]


BAD_DUES = [("9999-12-31", "year 9999"), ("0001-01-01", "year 0001"), ("9999-12-31T00:00:00Z", "year 9999")]
"""Action-item due dates outside the years 1970–2999 (a plain date is due at the start of the next
day: 9999-12-31 would overflow), with a phrase of the ``422``'s error."""


def due_batch(incident: str, due: str) -> list[dict[str, Any]]:
    """Two action items due at ``due``: one created (0), one of an MTM (1)."""
    created = event_envelope(
        incident,
        f"{incident}-a",
        "majorops.actionitem.created",
        "2026-11-20T09:14:00Z",
        {"item_id": "AI-1", "title": "Add an alert", "due": due},
    )
    mtm = event_envelope(
        incident,
        f"{incident}-m",
        "majorops.mtm.held",
        "2026-11-20T09:14:00Z",
        {"action_items": [{"title": "Call the vendor", "due": due}]},
    )
    return [created, mtm]


def alert_years_payload(incident: str) -> dict[str, Any]:
    """A notification whose second alert starts in the year 9999 (``alerts[1].startsAt``)."""
    return am_payload(
        f'{{}}:{{test="{incident}"}}',
        am_alert("f0", incident_id=incident),
        am_alert("f1", "9999-12-31T23:59:59Z", incident_id=incident),
    )


ALERT_YEARS_ERRORS = [("alerts[1].startsAt", "year 9999 is out of range: the years 1970–2999 are accepted")]
"""The errors of the ``422`` for :func:`alert_years_payload`."""
