"""Applying a webhook mapping to a sender's payload: the CloudEvents it makes, all or nothing.

The event id is derived from the sender's own event id, the mapping's name and our type, so a
retried delivery is a duplicate. Every event made is validated as ``/v1/events`` validates an
envelope; a problem is reported at the path of the payload the value came from. Pure."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from majorops.ingest.domain.jsonpath import Found, NotFound, describe, lookup
from majorops.ingest.domain.jsonpath import items as path_items
from majorops.ingest.domain.mapping_model import (
    ENVELOPE_SPECS,
    EPOCH_FORMATS,
    FROM_MAPPING,
    MISSING,
    Rule,
    ValueSpec,
    WebhookMapping,
)
from majorops.shared.events import (
    EVENT_ID_MAX_LENGTH,
    EventValidationError,
    FieldError,
    one_of,
    shown,
    validate_event,
)
from majorops.shared.problems import Problem

_LAST_SECOND = int(datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


@dataclass(frozen=True, slots=True)
class _Context:
    payload: Any
    item: Any
    item_steps: tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class _Got:
    value: Any
    source: str
    """The concrete path of the payload the value came from, or :data:`FROM_MAPPING`."""


@dataclass(frozen=True, slots=True)
class _Failed:
    field: str
    message: str


def _table_key(value: Any) -> str | None:
    """A sender's value as a key of a value table (JSON object keys are strings): ``P1``, ``3``, ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return value if isinstance(value, str) else json.dumps(value)
    return None


def _evaluate(spec: ValueSpec, context: _Context) -> _Got | _Failed | None:
    """The value of ``spec`` (``None``: an optional value the payload does not have). A ``null`` or a
    blank string in the payload counts as not there: senders write ``""`` for "none"."""
    if spec.first_of:
        failures: list[_Failed] = []
        for alternative in spec.first_of:
            got = _evaluate(alternative, context)
            if isinstance(got, _Got):
                return _transform(spec, got.value, got.source)
            if isinstance(got, _Failed):
                failures.append(got)
        if spec.default is not MISSING:
            return _transform(spec, spec.default, FROM_MAPPING)
        if spec.optional:
            return None
        tried = "; ".join(f"{failure.field}: {failure.message}" for failure in failures)
        first = failures[0].field if failures else FROM_MAPPING
        return _Failed(first, f"none of the alternatives gives a value ({tried})")
    if spec.path is None:
        return _transform(spec, spec.value, FROM_MAPPING)
    found = lookup(spec.path, context.payload, context.item, context.item_steps)
    if isinstance(found, Found) and isinstance(found.value, str) and not found.value.strip():
        found = NotFound(found.where, "is blank")
    if isinstance(found, Found):
        return _transform(spec, found.value, found.where)
    if spec.default is not MISSING:
        return _transform(spec, spec.default, found.where)
    if spec.optional:
        return None
    return _Failed(found.where, found.reason)


def _transform(spec: ValueSpec, value: Any, source: str) -> _Got | _Failed:
    """``values`` table, then ``format``, then ``replace`` and ``prefix``."""
    if spec.values is not None:
        key = _table_key(value)
        if key is None:
            return _Failed(source, f"is {describe(value)}, which the mapping's table cannot look up")
        if key not in spec.values:
            return _Failed(source, f"{shown(value)} is not in the mapping's table ({one_of(spec.values)})")
        value = spec.values[key]
    if spec.format is not None:
        converted = epoch_to_rfc3339(value, spec.format)
        if converted is None:
            return _Failed(
                source, f"{shown(value)} is not a Unix time in {spec.format.removeprefix('epoch_')}"
            )
        value = converted
    if spec.replace or spec.prefix:
        if isinstance(value, bool) or not isinstance(value, str | int):
            return _Failed(source, f"is {describe(value)}; only a string or an integer takes a prefix")
        text = str(value)
        for old, new in spec.replace:
            text = text.replace(old, new)
        value = spec.prefix + text
    return _Got(value, source)


def epoch_to_rfc3339(value: Any, fmt: str) -> str | None:
    """A Unix time (an integer, a string of digits, or seconds with a fraction) in the units of
    ``fmt`` as RFC 3339 in UTC (``2015-01-05T10:03:13.166002Z``); ``None`` if it is none, or
    outside the years 1970–2999."""
    per_second = EPOCH_FORMATS[fmt]
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        value = int(value)
    if isinstance(value, float) and fmt == "epoch_s" and 0 <= value <= _LAST_SECOND:
        value = round(value * 1_000_000)
        per_second = 1_000_000
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    seconds, rest = divmod(value, per_second)
    if not 0 <= seconds <= _LAST_SECOND:
        return None
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest * 1_000_000 // per_second)
    return moment.isoformat().replace("+00:00", "Z")


def event_id(mapping: str, parts: Sequence[str], event_type: str) -> str:
    """``<mapping>:<the sender's id parts>:<our type without 'majorops.'>`` (``:`` and ``%`` in a part
    percent-encoded, so distinct parts never give one id); when that is over 128 characters or holds
    a character an id cannot (a control character, white space at either end), ``<mapping>:`` + 32
    hex digits of its SHA-256 + ``:<type>``. Deterministic: a retried delivery names the same events."""
    short = event_type.removeprefix("majorops.")
    encoded = [part.replace("%", "%25").replace(":", "%3A") for part in parts]
    plain = ":".join([mapping, *encoded, short])
    fits = len(plain) <= EVENT_ID_MAX_LENGTH and plain == plain.strip()
    if fits and not any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in plain):
        return plain
    return f"{mapping}:{hashlib.sha256(plain.encode()).hexdigest()[:32]}:{short}"


@dataclass(frozen=True, slots=True)
class Ignored:
    """An event of the payload the mapping has no rule for."""

    index: int
    kind: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "reason": self.reason}


@dataclass
class Mapped:
    """What a payload gives: envelopes to ingest (validated), and what was ignored and why."""

    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)


def mapping_failed(mapping: WebhookMapping, errors: Sequence[FieldError]) -> Problem:
    """``422``: the payload does not fit its mapping; each error names the payload's path."""
    return Problem(
        422,
        "Webhook does not fit its mapping",
        f"{len(errors)} problem(s) applying the webhook mapping '{mapping.name}' to the payload; "
        "nothing was published",
        "webhook-mapping-failed",
        tuple(errors),
        extensions={"mapping": mapping.name},
    )


def map_payload(
    mapping: WebhookMapping, payload: Any, extra_types: frozenset[str] = frozenset()
) -> Mapped | Problem:
    """The CloudEvents a sender's payload makes by ``mapping``, all or nothing: any problem (a path
    not found, a value not in a table, an event invalid as made) is a ``422`` naming every one."""
    if mapping.items is None:
        entries: list[tuple[tuple[str | int, ...], Any]] = [((), payload)]
    else:
        listed = path_items(mapping.items, payload)
        if isinstance(listed, NotFound):
            return mapping_failed(mapping, [FieldError(listed.where, listed.reason)])
        entries = listed
    result = Mapped()
    errors: list[FieldError] = []
    for index, (steps, item) in enumerate(entries):
        at = index if mapping.items is not None else None
        context = _Context(payload, item, steps)
        kind = _evaluate(mapping.kind, context)
        if not isinstance(kind, _Got):
            failed = kind or _Failed(FROM_MAPPING, "no kind")
            errors.append(FieldError(failed.field, failed.message, at))
            continue
        key = _table_key(kind.value)
        if key is None:
            message = f"is {describe(kind.value)}; the kind of an event is a string or a number"
            errors.append(FieldError(kind.source, message, at))
            continue
        rules = mapping.rules.get(key)
        if not rules:
            reason = (
                f"the mapping '{mapping.name}' has no rule for {kind.source} = {shown(kind.value)} "
                f"(it maps {one_of(mapping.kinds())})"
            )
            result.ignored.append(Ignored(index, key, reason))
            continue
        for rule in rules:
            made = _event(mapping, rule, context)
            if isinstance(made, list):
                errors.extend(FieldError(f.field, f.message, at) for f in made)
                continue
            envelope, sources = made
            try:
                validate_event(envelope, extra_types)
            except EventValidationError as exc:
                errors.extend(_from_payload(error, sources, at) for error in exc.errors)
                continue
            result.events.append(envelope)
    if errors:
        return mapping_failed(mapping, _unique(errors))
    return result


def _event(
    mapping: WebhookMapping, rule: Rule, context: _Context
) -> tuple[dict[str, Any], dict[str, str]] | list[_Failed]:
    """One envelope and where each attribute and data field came from, or every problem."""
    failures: list[_Failed] = []
    sources: dict[str, str] = {}

    def take(spec: ValueSpec, attribute: str) -> Any:
        got = _evaluate(spec, context)
        if isinstance(got, _Failed):
            failures.append(got)
        elif got is not None:
            sources[attribute] = got.source
            return got.value
        return MISSING

    parts: list[str] = []
    for spec in mapping.id:
        part = take(spec, "id")
        if isinstance(part, str | int) and not isinstance(part, bool):
            parts.append(str(part))
        elif part is not MISSING:
            failures.append(
                _Failed(sources["id"], f"is {describe(part)}; an event id is made of strings and integers")
            )
    envelope: dict[str, Any] = {"specversion": "1.0", "id": "", "type": rule.type}
    for attribute in ENVELOPE_SPECS:
        envelope[attribute] = take(rule.envelope.get(attribute) or mapping.envelope[attribute], attribute)
    data: dict[str, Any] = {}
    for name, spec in {**mapping.data, **rule.data}.items():
        value = take(spec, f"data.{name}")
        if value is not MISSING:
            data[name] = value
    if failures:
        return failures
    envelope["id"] = event_id(mapping.name, parts, rule.type)
    envelope["datacontenttype"] = "application/json"
    envelope["data"] = data
    return envelope, sources


def _from_payload(error: FieldError, sources: Mapping[str, str], index: int | None) -> FieldError:
    """An envelope's validation error, named by the payload path its value came from."""
    for attribute in sorted(sources, key=len, reverse=True):
        if error.field == attribute or error.field.startswith((f"{attribute}.", f"{attribute}[")):
            source = sources[attribute]
            rest = error.field.removeprefix(attribute)
            where = source + rest if source != FROM_MAPPING else source
            return FieldError(where, f"as {error.field}: {error.message}", index)
    return FieldError(FROM_MAPPING, f"{error.field}: {error.message}", index)


def _unique(errors: list[FieldError]) -> list[FieldError]:
    seen: set[tuple[str, str, int | None]] = set()
    out = []
    for error in errors:
        key = (error.field, error.message, error.index)
        if key not in seen:
            seen.add(key)
            out.append(error)
    return out
