"""Strict JSON bodies and the envelope rules against hostile input, without any server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majorops.shared.events import (
    EventValidationError,
    checked_time,
    document_store_key_errors,
    validate_event,
)
from majorops.shared.json_body import MAX_JSON_DEPTH, JsonRefused, loads_strict, parse_json_body
from majorops.shared.problems import Problem
from majorops.shared.testing import event_envelope

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(value=JSON_VALUES, ascii_only=st.booleans())
def test_every_json_value_within_the_limits_reads_back_as_it_was_written(
    value: Any, ascii_only: bool
) -> None:
    assert loads_strict(json.dumps(value, ensure_ascii=ascii_only).encode()) == value


@pytest.mark.parametrize(
    ("raw", "slug", "phrase"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "too-deep", f"more than {MAX_JSON_DEPTH} levels"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "too-deep", "levels deep"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "too-deep", "levels deep"),
        (b"\xff", "not-json", "not UTF-8 (invalid start byte: byte 0xff at offset 0)"),
        ("{}".encode("utf-16"), "not-json", "not UTF-8"),
        (b"[NaN]", "not-json", "NaN is not a JSON value"),
        (b"[Infinity]", "not-json", "Infinity is not a JSON value"),
        (b"[-Infinity]", "not-json", "-Infinity is not a JSON value"),
        (b"[1e400]", "not-json", "the number '1e400' is out of range"),
        (b"[9223372036854775808]", "not-json", "beyond 64 bits"),
        (b"[" + b"1" * 5000 + b"]", "not-json", "beyond 64 bits"),
        (b'["\\ud800"]', "not-json", "lone UTF-16 surrogate"),
        (b'{"\\udc00":1}', "not-json", "lone UTF-16 surrogate"),
        (
            b'{"a":1,"a":1}',
            "duplicate-key",
            "The key 'a' appears more than once in one object (at the top level)",
        ),
        (b'{"x":[{"a":1},{"b":1,"b":2}]}', "duplicate-key", "(at x[1])"),
        (b'{"\\ud800":1,"\\ud800":2}', "duplicate-key", "The key '\\ud800'"),
        (b"", "not-json", "Expecting value"),
    ],
)
def test_what_is_refused_and_why(raw: bytes, slug: str, phrase: str) -> None:
    problem = parse_json_body(raw)
    assert isinstance(problem, Problem)
    assert (problem.status, problem.slug) == (400, slug)
    assert phrase in problem.detail
    json.dumps(problem.as_dict(), ensure_ascii=False).encode()  # an answer that can be sent


def test_the_limits_themselves_are_accepted() -> None:
    depth = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert loads_strict(depth) is not None
    assert loads_strict(b"[-9223372036854775808, 9223372036854775807, 1.7976931348623157e308]")[0] == -(2**63)
    assert loads_strict(b'\xef\xbb\xbf{"bom": "ignored"}') == {"bom": "ignored"}
    assert loads_strict(b'"\\ud83d\\ude00"') == "😀"


def test_the_path_of_a_duplicate_key_is_named() -> None:
    with pytest.raises(JsonRefused) as refused:
        loads_strict(b'[{"data":{"severity":"low","severity":"P1"}}]')
    assert [e.field for e in refused.value.errors] == ["[0].data.severity"]


ACTION_ITEM = event_envelope(
    "INC-1", "e-1", "actionitem.created", "2026-11-20T09:14:00Z", {"item_id": "AI-1", "title": "Add an alert"}
)


def fields_refused(raw: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(EventValidationError) as refused:
        validate_event(raw)
    return [(e.field, e.message) for e in refused.value.errors]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"$where": "1"}, "data.$where"),
        ({"x": {"$gt": 1}}, "data.x.$gt"),
        ({"x": [{"a.b": 1}]}, "data.x[0].a.b"),
        ({"k\x00": 1}, "data.k\x00"),
    ],
)
def test_keys_a_document_store_interprets_are_refused_by_the_shared_validation(
    data: dict[str, Any], field: str
) -> None:
    raw = ACTION_ITEM | {"data": {"item_id": "AI-1", "title": "t", **data}}
    assert [f for f, _ in fields_refused(raw)] == [field]
    assert document_store_key_errors({"data": {"ok": {"fine_key": [{"also": 1}]}}}) == []


@pytest.mark.parametrize("event_id", ["a\r\nb", "a\x00", " a", "a\u3000", "a\u2029b", "\x7f"])
def test_ids_unsafe_as_a_nats_header_are_refused(event_id: str) -> None:
    [(field, _)] = fields_refused(ACTION_ITEM | {"id": event_id})
    assert field == "id"


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        ("time", "9999-12-31T23:59:59Z", "time"),
        ("time", "1969-12-31T23:59:59+00:00", "time"),
        ("due", "9999-12-31", "data.due"),
        ("due", "0001-01-01T00:00:00Z", "data.due"),
    ],
)
def test_years_outside_1970_to_2999_are_refused(where: str, value: str, field: str) -> None:
    raw = (
        ACTION_ITEM | {"time": value}
        if where == "time"
        else ACTION_ITEM | {"data": {"item_id": "A", "title": "t", "due": value}}
    )
    [(refused, message)] = fields_refused(raw)
    assert refused == field
    assert "is out of range: the years 1970–2999 are accepted" in message


def test_the_year_range_is_the_years_as_written() -> None:
    assert checked_time("1970-01-01T00:00:00+14:00").year == 1970  # 1969 in UTC
    assert checked_time("2999-12-31T23:59:59-12:00").year == 2999  # 3000 in UTC
