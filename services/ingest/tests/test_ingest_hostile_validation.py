"""Hostile input against ingest's pure validation: no broker, no HTTP.

What ``POST /v1/events``, ``POST /v1/webhooks/alertmanager`` and the ``majorops.ingest`` NATS
request answer before anything is published is decided by pure functions, called here as the
runtime calls them (``majorops.ingest.bootstrap``): strict JSON (:func:`parse_json_body`, ``400``),
then for events :func:`validate_batch` (``422 invalid-events``) and for Alertmanager
:func:`webhook_to_events` (``422 invalid-alertmanager-webhook``) and the validation of the events it
makes. The answer is the problem's document (:meth:`Problem.as_dict`), as HTTP and NATS send it.
What needs the broker (nothing published or remembered, the NATS reply equal to the HTTP answer,
``409``, ``413``) is in ``test_ingest_hostile.py``, with one case of each kind here through HTTP.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majorops.ingest.domain.alertmanager import webhook_to_events
from majorops.ingest.domain.batch import validate_batch
from majorops.shared.events import validate_event
from majorops.shared.json_body import MAX_JSON_DEPTH, parse_json_body
from majorops.shared.problems import Problem
from majorops.shared.testing import (
    ALERT_YEARS_ERRORS,
    BAD_DUES,
    BAD_IDS,
    BAD_SUBJECTS,
    BAD_TIMES,
    BYTE_DAMAGE,
    DUPLICATE_KEYS,
    FUZZ,
    GOOD_ID_TAILS,
    JSON_VALUES,
    NOT_JSON_BODIES,
    STORE_KEY_DATA,
    TOO_DEEP_BODIES,
    alert_years_payload,
    am_alert,
    am_payload,
    damaged,
    declared_envelope,
    due_batch,
    dumps,
    envelopes,
    fields_of,
    mutate,
    mutations,
    place,
    timed_batch,
)

INCIDENT = "INC-7"
PROBLEM_MEMBERS = {"type", "title", "status", "detail"}


def refused(result: Any, status: int, slug: str) -> dict[str, Any]:
    """The problem document of a refusal, as HTTP and NATS would send it (through JSON)."""
    assert isinstance(result, Problem), result
    doc: dict[str, Any] = json.loads(json.dumps(result.as_dict()))
    assert PROBLEM_MEMBERS <= set(doc)
    assert (doc["status"], doc["type"]) == (status, f"https://majorops.dev/problems/{slug}"), doc
    for error in doc.get("errors", []):
        assert {"field", "message"} <= set(error) <= {"field", "message", "index"}, error
        assert error["field"] and error["message"], error
    return doc


def events_answer(raw: bytes) -> Any:
    """What ``/v1/events`` (and ``majorops.ingest``) decide before publishing: the problem, or the
    validated events."""
    body = parse_json_body(raw)
    return body if isinstance(body, Problem) else validate_batch(body)


def alertmanager_answer(raw: bytes) -> Any:
    """What ``/v1/webhooks/alertmanager`` decides before publishing: the problem, or the events."""
    body = parse_json_body(raw)
    if isinstance(body, Problem):
        return body
    events = webhook_to_events(body)
    return events if isinstance(events, Problem) else validate_batch(events, limit=None)


# --- properties: valid envelopes, mutated ones, damaged bytes, any JSON value -------------------------


@settings(FUZZ, max_examples=20)
@given(batch=st.lists(envelopes(), min_size=1, max_size=4, unique_by=lambda e: e["id"]))
def test_valid_events_of_every_type_are_accepted_as_they_were_sent(batch: list[dict[str, Any]]) -> None:
    events = [place(e, INCIDENT) for e in batch]
    validated = events_answer(dumps(events))
    assert not isinstance(validated, Problem), validated
    assert [e.to_wire() for e in validated] == [validate_event(e).to_wire() for e in events]


@settings(FUZZ, max_examples=80)
@given(envelope=envelopes(), mutation=mutations())
def test_a_mutated_envelope_is_a_422_naming_the_field_and_refuses_its_batch(
    envelope: dict[str, Any], mutation: tuple[str, Any]
) -> None:
    invalid, field = mutate(place(envelope, INCIDENT), mutation)
    single = refused(events_answer(dumps(invalid)), 422, "invalid-events")
    assert any(f.startswith(field) for f in fields_of(single)), (field, single["errors"])
    # In a batch, all or nothing: the error names the invalid event, the valid one before it none.
    other = declared_envelope(INCIDENT, f"{INCIDENT}:other")
    batch = refused(events_answer(dumps([other, invalid])), 422, "invalid-events")
    assert {e["index"] for e in batch["errors"]} == {1}


@settings(FUZZ, max_examples=50)
@given(envelope=envelopes(), kind=BYTE_DAMAGE, data=st.data())
def test_damaged_json_is_a_400_saying_why(envelope: dict[str, Any], kind: str, data: Any) -> None:
    raw, slug, phrase = damaged(place(envelope, INCIDENT), kind, data)
    doc = refused(events_answer(raw), 400, slug)
    if slug == "duplicate-key":
        assert fields_of(doc) == {phrase}
    else:
        assert phrase in doc["detail"]
    assert alertmanager_answer(raw) == events_answer(raw)  # strict JSON comes first on every route


@settings(FUZZ, max_examples=80)
@given(body=JSON_VALUES)
def test_any_json_value_is_a_400_or_422_problem(body: Any) -> None:
    result = events_answer(dumps(body))
    assert isinstance(result, Problem), result
    doc = refused(result, result.status, result.slug)
    assert doc["status"] in {400, 422}


# --- named cases: the body ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", list(TOO_DEEP_BODIES.values()), ids=list(TOO_DEEP_BODIES))
def test_a_body_nested_too_deeply_is_a_400(body: bytes) -> None:
    doc = refused(events_answer(body), 400, "too-deep")
    assert doc["title"] == "Body nested too deeply"
    assert f"more than {MAX_JSON_DEPTH} levels deep" in doc["detail"]
    assert alertmanager_answer(body) == events_answer(body)


def test_64_levels_are_still_json() -> None:
    refused(events_answer(b"[" * 64 + b"]" * 64), 422, "invalid-events")


@pytest.mark.parametrize("case", list(NOT_JSON_BODIES), ids=list(NOT_JSON_BODIES))
def test_a_body_that_is_not_strict_json_is_a_400_saying_why(case: str) -> None:
    body, phrase = NOT_JSON_BODIES[case]
    doc = refused(events_answer(body), 400, "not-json")
    assert doc["detail"].startswith("The request body could not be parsed as JSON: ")
    assert phrase in doc["detail"], doc["detail"]
    assert alertmanager_answer(body) == events_answer(body)


@pytest.mark.parametrize("case", list(DUPLICATE_KEYS), ids=list(DUPLICATE_KEYS))
def test_a_key_repeated_in_an_object_is_a_400_naming_it(case: str) -> None:
    """Of two equal keys, Python would keep the last silently: a forged field hides that way."""
    body, field, key = DUPLICATE_KEYS[case]
    doc = refused(events_answer(body), 400, "duplicate-key")
    assert doc["errors"] == [{"field": field, "message": "appears more than once in its object"}]
    assert f"The key {key!r} appears more than once" in doc["detail"]
    assert alertmanager_answer(body) == events_answer(body)


# --- named cases: the envelope ------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(STORE_KEY_DATA), ids=list(STORE_KEY_DATA))
def test_keys_a_document_store_interprets_are_a_422_naming_the_path(case: str) -> None:
    extra, fields = STORE_KEY_DATA[case]
    body = dumps(declared_envelope(INCIDENT, f"{INCIDENT}-1", **extra))
    doc = refused(events_answer(body), 422, "invalid-events")
    assert fields_of(doc) == fields
    assert all(e["index"] == 0 for e in doc["errors"])


def test_an_operator_in_an_extension_attribute_is_refused_and_in_an_alert_label_renamed() -> None:
    """A sender writes its own envelope: an operator key there is refused. Alertmanager cannot
    change a label name and would retry a refusal forever: ingest keeps such a label as Prometheus
    translates names, with ``_`` for what a store interprets."""
    event = declared_envelope(INCIDENT, f"{INCIDENT}-1") | {"$where": "1"}
    assert fields_of(refused(events_answer(dumps(event)), 422, "invalid-events")) == {"$where"}
    hook = am_payload("{}:{}", am_alert("f1", incident_id=INCIDENT, **{"$where": "1", "a.b": "2"}))
    [fired] = alertmanager_answer(dumps(hook))
    labels = fired.to_wire()["data"]["labels"]
    assert (labels["_where"], labels["a_b"]) == ("1", "2")
    assert "$where" not in labels and "a.b" not in labels


@pytest.mark.parametrize("subject", BAD_SUBJECTS)
def test_a_subject_that_is_not_an_incident_id_is_a_422(subject: str) -> None:
    """The incident id is a token of NATS subjects: `.`, `*`, `>` and white space would change the
    subject the event is published on (and what a wildcard subscriber receives)."""
    event = declared_envelope(INCIDENT, f"{INCIDENT}-1") | {"subject": subject}
    assert fields_of(refused(events_answer(dumps(event)), 422, "invalid-events")) == {"subject"}
    hook = am_payload("{}:{}", am_alert("f1", incident_id=subject))
    doc = refused(alertmanager_answer(dumps(hook)), 422, "invalid-alertmanager-webhook")
    assert fields_of(doc) == {"alerts[0].labels.incident_id"}


@pytest.mark.parametrize("case", list(BAD_IDS), ids=list(BAD_IDS))
def test_an_id_unsafe_as_a_nats_header_is_a_422(case: str) -> None:
    body = dumps(declared_envelope(INCIDENT, BAD_IDS[case]))
    assert fields_of(refused(events_answer(body), 422, "invalid-events")) == {"id"}


@pytest.mark.parametrize("tail", GOOD_ID_TAILS)
def test_an_id_with_any_other_characters_is_valid_and_kept_as_sent(tail: str) -> None:
    [event] = events_answer(dumps(declared_envelope(INCIDENT, f"{INCIDENT}:{tail}")))
    assert event.id == f"{INCIDENT}:{tail}"


@pytest.mark.parametrize("case", list(BAD_TIMES), ids=list(BAD_TIMES))
def test_a_time_without_offset_or_outside_the_years_1970_to_2999_is_a_422(case: str) -> None:
    value, phrase = BAD_TIMES[case]
    doc = refused(events_answer(dumps(timed_batch(INCIDENT, value))), 422, "invalid-events")
    errors = {(e["index"], e["field"]): e["message"] for e in doc["errors"]}
    assert set(errors) == {(0, "time"), (1, "data.meeting_at"), (2, "data.due")}
    assert all(phrase in message for message in errors.values()), errors


@pytest.mark.parametrize(("due", "phrase"), BAD_DUES)
def test_an_action_item_due_outside_the_years_1970_to_2999_is_a_422(due: str, phrase: str) -> None:
    """A plain date is due at the start of the next day: 9999-12-31 would overflow."""
    doc = refused(events_answer(dumps(due_batch(INCIDENT, due))), 422, "invalid-events")
    errors = {(e["index"], e["field"]): e["message"] for e in doc["errors"]}
    assert set(errors) == {(0, "data.due"), (1, "data.action_items[0].due")}
    assert all(phrase in message for message in errors.values())


def test_an_alert_outside_the_years_is_a_422_naming_the_alert() -> None:
    raw = dumps(alert_years_payload(INCIDENT))
    doc = refused(alertmanager_answer(raw), 422, "invalid-alertmanager-webhook")
    assert [(e["field"], e["message"]) for e in doc["errors"]] == ALERT_YEARS_ERRORS
