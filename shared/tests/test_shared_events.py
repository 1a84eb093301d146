"""The input contract (CONTRACT §1): what a sender is told when an envelope is wrong, and what is kept."""

from __future__ import annotations

from typing import Any

import pytest

from majorops.shared.events import (
    EVENT_DATA_MODELS,
    SEVERITY_ALIASES,
    EventType,
    EventValidationError,
    Severity,
    parse_extra_event_types,
    validate_event,
)
from majorops.shared.testing import event_envelope

# CONTRACT §1's example envelope.
EXAMPLE = event_envelope(
    "INC-1042",
    "8f1c2a6e-3d1b-4a5e-9a52-2f0b6f6f7c11",
    "incident.declared",
    "2026-11-20T09:14:00Z",
    {"title": "Checkout latency", "severity": "critical"},
) | {"datacontenttype": "application/json"}


def env(type_: str = "majorops.incident.declared", **overrides: Any) -> dict[str, Any]:
    return EXAMPLE | {"type": type_, **overrides}


def message_of(raw: Any, field: str, extra_types: frozenset[str] = frozenset()) -> str:
    with pytest.raises(EventValidationError) as info:
        validate_event(raw, extra_types)
    [message] = [e.message for e in info.value.errors if e.field == field]
    return message


def fields_of(raw: Any) -> set[str]:
    with pytest.raises(EventValidationError) as info:
        validate_event(raw)
    return {e.field for e in info.value.errors}


def test_contract_example_is_valid() -> None:
    event = validate_event(env())
    assert event.incident_id == "INC-1042"
    assert event.short_type == "incident.declared"
    assert event.occurred_at.isoformat() == "2026-11-20T09:14:00+00:00"


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("P1", "critical"),
        ("p2", "high"),
        ("P3", "medium"),
        ("p4", "low"),
        ("CRITICAL", "critical"),
        ("High", "high"),
    ],
)
def test_severity_aliases_are_normalised(alias: str, expected: str) -> None:
    event = validate_event(env(data={"title": "t", "severity": alias}))
    assert event.data["severity"] == expected
    assert Severity(event.data["severity"]).value == expected


def test_unknown_data_fields_are_kept_on_the_wire() -> None:
    event = validate_event(env(data={"title": "t", "severity": "P2", "pagerduty_url": "https://x"}))
    wire = event.to_wire()
    assert wire["data"]["pagerduty_url"] == "https://x"
    assert wire["data"]["severity"] == "high"
    assert wire["time"] == "2026-11-20T09:14:00Z"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"time": "2026-11-20T09:14:00"}, "time"),  # no offset
        ({"time": "yesterday"}, "time"),
        ({"time": 1763630040}, "time"),
        ({"subject": "-bad"}, "subject"),
        ({"subject": "a" * 65}, "subject"),
        ({"subject": "INC 1"}, "subject"),
        ({"id": ""}, "id"),
        ({"id": "x" * 129}, "id"),
        ({"specversion": "0.3"}, "specversion"),
        ({"type": "majorops.incident.declard"}, "type"),
        ({"source": ""}, "source"),
    ],
)
def test_envelope_errors_name_the_field(override: dict[str, Any], field: str) -> None:
    assert field in fields_of(env(**override))


def test_missing_required_attributes_are_each_reported() -> None:
    raw = env()
    for key in ("id", "time", "subject", "source"):
        del raw[key]
    assert {"id", "time", "subject", "source"} <= fields_of(raw)


@pytest.mark.parametrize(
    ("type_", "data", "field"),
    [
        ("majorops.incident.declared", {"severity": "critical"}, "data.title"),
        ("majorops.incident.declared", {"title": "t", "severity": "urgent"}, "data.severity"),
        (
            "majorops.incident.declared",
            {"title": "t", "severity": "P1", "affected_users": "12"},
            "data.affected_users",
        ),
        (
            "majorops.incident.declared",
            {"title": "t", "severity": "P1", "sla_status": "late"},
            "data.sla_status",
        ),
        ("majorops.alert.fired", {"alert_name": "x", "customer_count": -1}, "data.customer_count"),
        ("majorops.alert.fired", {"alert_name": "x", "external_impact": "yes"}, "data.external_impact"),
        ("majorops.role.assigned", {"role": "mim"}, "data.person"),
        ("majorops.status.posted", {"audience": "everyone", "text": "x"}, "data.audience"),
        ("majorops.vendor.rca_committed", {"vendor": "Acme", "due": "next week"}, "data.due"),
        ("majorops.afteraction.scheduled", {}, "data.meeting_at"),
        ("majorops.mtm.held", {"action_items": [{"owner": "x"}]}, "data.action_items[0].title"),
        ("majorops.actionitem.created", {"item_id": "AI-7"}, "data.title"),
        ("majorops.actionitem.created", {"item_id": "AI 7", "title": "t"}, "data.item_id"),
    ],
)
def test_data_errors_name_the_field(type_: str, data: dict[str, Any], field: str) -> None:
    assert field in fields_of(env(type_, data=data))


def test_update_needs_at_least_one_field() -> None:
    with pytest.raises(EventValidationError) as info:
        validate_event(env("majorops.incident.updated", data={}))
    assert "at least one of" in str(info.value)


def test_every_contract_type_is_known_and_short_names_are_unique() -> None:
    assert set(EVENT_DATA_MODELS) == {t.value for t in EventType}
    assert len({t.short for t in EventType}) == len(EventType)


def test_unknown_type_is_rejected_unless_the_deployment_added_it() -> None:
    raw = env("majorops.change.deployed", data={"anything": 1})
    assert "type" in fields_of(raw)
    extra = parse_extra_event_types(["majorops.change.deployed"])
    assert validate_event(raw, extra).data == {"anything": 1}


@pytest.mark.parametrize("name", ["Change.Deployed", "other.change.deployed", "majorops"])
def test_extra_types_must_be_well_formed(name: str) -> None:
    with pytest.raises(ValueError, match="must look like"):
        parse_extra_event_types([name])


def test_not_an_object() -> None:
    assert fields_of(["x"]) == {"(envelope)"}


@pytest.mark.parametrize(
    ("type_", "severity", "got"),
    [
        ("majorops.incident.declared", "urgent", "'urgent'"),
        ("majorops.incident.declared", "P5", "'P5'"),
        ("majorops.incident.declared", 1, "1"),
        ("majorops.incident.declared", None, "null"),
        ("majorops.incident.updated", "sev1", "'sev1'"),
        ("majorops.incident.updated", ["P1"], '["P1"]'),
    ],
)
def test_a_bad_severity_names_every_accepted_form(type_: str, severity: Any, got: str) -> None:
    data = {"title": "t", "severity": severity}
    message = message_of(env(type_, data=data), "data.severity")
    assert message == (
        f"must be one of 'critical', 'high', 'medium', 'low', 'P1', 'P2', 'P3', 'P4' (any case); got {got}"
    )


def test_severity_forms_come_from_the_enum_and_the_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new alias is named in the message by itself: nothing is hard-coded."""
    monkeypatch.setitem(SEVERITY_ALIASES, "sev1", Severity.CRITICAL)
    message = message_of(env(data={"title": "t", "severity": "urgent"}), "data.severity")
    assert "'SEV1'" in message
    assert validate_event(env(data={"title": "t", "severity": "Sev1"})).data["severity"] == "critical"


@pytest.mark.parametrize(
    ("raw", "field", "forms"),
    [
        (
            env(data={"title": "t", "severity": "P1", "sla_status": "late"}),
            "data.sla_status",
            ["met", "at_risk", "breached"],
        ),
        (
            env("majorops.incident.updated", data={"sla_status": "ok"}),
            "data.sla_status",
            ["met", "at_risk", "breached"],
        ),
        (
            env("majorops.status.posted", data={"audience": "everyone", "text": "x"}),
            "data.audience",
            ["public", "internal"],
        ),
        (env(specversion="0.3"), "specversion", ["1.0"]),
        (env(specversion=1.0), "specversion", ["1.0"]),
        (env(datacontenttype="text/plain"), "datacontenttype", ["application/json"]),
    ],
)
def test_other_enumerated_fields_name_every_accepted_form(
    raw: dict[str, Any], field: str, forms: list[str]
) -> None:
    message = message_of(raw, field)
    for form in forms:
        assert f"'{form}'" in message


def test_an_unknown_type_names_every_known_type_and_the_likely_one() -> None:
    extra = parse_extra_event_types(["majorops.change.deployed"])
    message = message_of(env("majorops.incident.declard"), "type", extra)
    assert message.startswith("unknown event type 'majorops.incident.declard'")
    assert "did you mean 'majorops.incident.declared'?" in message
    for known in [*EventType, "majorops.change.deployed"]:
        assert f"'{known}'" in message
    assert "did you mean" not in message_of(env("page.created"), "type")


# --- extension attributes (issue 20) ------------------------------------------------------------------


def test_cloudevents_extension_attributes_are_kept() -> None:
    extensions = {
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "comexampleext1": "value",
        "dataschema": "https://example.com/schema",
        "partitionkey": 7,
        "sampled": True,
        "nothing": None,
    }
    event = validate_event(env(**extensions))
    assert {key: (event.model_extra or {})[key] for key in extensions} == extensions


def test_an_envelope_cannot_carry_an_escalation_a_decision_or_a_jetstream_request() -> None:
    """The reported attack: an event whose extension attributes also formed an escalation (and a
    decision revision) that a reader of the stored envelope could take for its own."""
    smuggled = {
        "escalation_id": "INC-1042:vendor_rca_overdue:FakeVendor:1",
        "incident_id": "INC-1042",
        "kind": "vendor_rca_overdue",
        "level": 1,
        "due_at": "2026-11-20T12:00:00Z",
        "notify": {"role": "engineering_director"},
        "revision": 7,
        "requirement": "mandatory",
        "stream_name": "MAJOROPS_EVENTS",
        "config": {"deliver_subject": "_INBOX.x"},
    }
    fields = fields_of(env(**smuggled))
    # Underscored names are not CloudEvents attribute names; objects are not attribute values.
    assert {"escalation_id", "incident_id", "due_at", "stream_name", "notify", "config"} <= fields
    # The scalars with plain names are valid extensions on their own, but nothing can join them
    # into a document the strict payloads would take: every other required field is refused.
    assert {"kind", "level", "revision", "requirement"}.isdisjoint(fields)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Upper", "x"),
        ("with-dash", "x"),
        ("a" * 21, "x"),
        ("", "x"),
        ("list", [1]),
        ("fraction", 1.5),
        ("huge", 2**31),
    ],
)
def test_an_extension_attribute_outside_cloudevents_is_refused_by_name(name: str, value: Any) -> None:
    message = message_of(env(**{name: value}), name or "(envelope)")
    assert "CloudEvents 1.0" in message
