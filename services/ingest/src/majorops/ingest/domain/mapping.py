"""Declarative webhook mappings: any sender's webhook as CloudEvents, without code.

A mapping is a small JSON document (the format, every key and examples: docs/webhook-mappings.md).
It says, with paths into the sender's payload (:mod:`majorops.ingest.domain.jsonpath`), what kind
of event the sender reports (``kind``) and, for each kind we take, which of our event types it
becomes (``events``), and how to get each envelope attribute and ``data`` field. A kind the mapping
has no rule for is *ignored*, with the reason in the answer: senders post whatever their
subscription includes, and refusing it would only make them retry, then give up on the webhook.

The event id is derived from the sender's own event id (``id``), the mapping's name and our type,
so a retried delivery is a duplicate. Every event made is validated as ``/v1/events`` validates an
envelope; a problem is reported at the path of the payload the value came from.

Pure: parsing a mapping document and applying it to a payload; reading the files is ingest's.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from majorops.ingest.domain.jsonpath import (
    Found,
    JsonPath,
    NotFound,
    describe,
    lookup,
    parse_path,
)
from majorops.ingest.domain.jsonpath import items as path_items
from majorops.shared.events import (
    EVENT_DATA_MODELS,
    EVENT_ID_MAX_LENGTH,
    EventValidationError,
    FieldError,
    document_store_key_errors,
    one_of,
    shown,
    unknown_type_message,
    validate_event,
)
from majorops.shared.problems import Problem

MAPPING_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
"""A mapping's name (its file name without ``.json``): the last segment of ``/v1/webhooks/<name>``."""
RESERVED_NAMES = frozenset({"alertmanager"})
"""Names of the webhooks ingest serves with code of its own; a mapping cannot take them."""

EPOCH_FORMATS: Mapping[str, int] = {"epoch_s": 1, "epoch_ms": 10**3, "epoch_us": 10**6, "epoch_ns": 10**9}
"""``format`` of a value: a Unix time in these units (a number, or a string of digits) → RFC 3339."""
_LAST_SECOND = int(datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())

_TOP_KEYS = ("description", "items", "kind", "events", "id", "subject", "time", "source", "data")
_RULE_KEYS = ("type", "description", "subject", "time", "source", "data")
_SPEC_KEYS = ("path", "value", "first_of", "values", "default", "optional", "prefix", "replace", "format")
_ENVELOPE_SPECS = ("subject", "time", "source")
FROM_MAPPING = "(mapping)"
"""Where a value came from when the mapping gives it (a constant), not the payload."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


# --- the parsed mapping ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValueSpec:
    """How to get one value: from a ``path``, a constant ``value``, or the ``first_of`` several that
    gives one; then looked up in ``values``, converted by ``format``, ``replace``d and ``prefix``ed."""

    path: JsonPath | None = None
    value: Any = MISSING
    first_of: tuple[ValueSpec, ...] = ()
    values: Mapping[str, Any] | None = None
    default: Any = MISSING
    optional: bool = False
    prefix: str = ""
    replace: tuple[tuple[str, str], ...] = ()
    format: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One event a sender's kind of event becomes: our ``type``, its ``data`` fields, and the
    envelope attributes it takes otherwise than the mapping's own (``subject``, ``time``, ``source``)."""

    type: str
    data: Mapping[str, ValueSpec]
    envelope: Mapping[str, ValueSpec]


@dataclass(frozen=True, slots=True)
class WebhookMapping:
    name: str
    description: str
    items: JsonPath | None
    kind: ValueSpec
    rules: Mapping[str, tuple[Rule, ...]]
    id: tuple[ValueSpec, ...]
    envelope: Mapping[str, ValueSpec]
    data: Mapping[str, ValueSpec]

    def kinds(self) -> list[str]:
        return list(self.rules)


class MappingInvalid(ValueError):
    """A mapping document that cannot be used, with every problem found (``where: what``)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


# --- reading a mapping document -------------------------------------------------------------------


class _Reader:
    """Parses a mapping document, collecting every problem with where it is (``events.Create[0].type``)."""

    def __init__(self, extra_types: frozenset[str]) -> None:
        self.extra_types = extra_types
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}" if where else message)

    def keys(self, node: dict[str, Any], allowed: Sequence[str], where: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem(
                    f"{where}.{key}" if where else key, f"unknown key; the keys are {one_of(allowed)}"
                )

    def path(self, text: Any, where: str, *, items: bool = False) -> JsonPath | None:
        if not isinstance(text, str):
            self.problem(where, "a path must be a string such as '$.event.id'")
            return None
        try:
            path = parse_path(text)
        except ValueError as exc:
            self.problem(where, str(exc))
            return None
        if items and (path.relative or path.wildcards != 1):
            self.problem(where, "'items' is a path from '$' with one [*], e.g. '$.events[*]'")
            return None
        if not items and path.wildcards:
            self.problem(where, "[*] is only for 'items' (a payload carrying several events)")
            return None
        return path

    def spec(self, node: Any, where: str, *, may_be_optional: bool = False) -> ValueSpec | None:
        """A value spec: a path string (``$…``/``@…``), any other JSON scalar as a constant, or an object."""
        if isinstance(node, str) and node[:1] in ("$", "@"):
            path = self.path(node, where)
            return ValueSpec(path=path) if path else None
        if node is None or isinstance(node, list):
            self.problem(
                where,
                "a value is a path ('$.a.b'), a constant (a string, number or boolean) or an object "
                "with 'path', 'value' or 'first_of'",
            )
            return None
        if not isinstance(node, dict):
            return ValueSpec(value=node)
        return self.spec_object(node, where, may_be_optional)

    def spec_object(self, node: dict[str, Any], where: str, may_be_optional: bool) -> ValueSpec | None:
        self.keys(node, _SPEC_KEYS, where)
        given = [key for key in ("path", "value", "first_of") if key in node]
        if len(given) != 1:
            self.problem(where, "needs exactly one of 'path', 'value', 'first_of'")
            return None
        before = len(self.problems)
        path: JsonPath | None = None
        first_of: tuple[ValueSpec, ...] = ()
        if "path" in node:
            path = self.path(node["path"], f"{where}.path")
        elif "first_of" in node:
            first_of = self.alternatives(node["first_of"], f"{where}.first_of")
        elif node["value"] is None:
            self.problem(f"{where}.value", "must not be null (leave the field out instead)")
        values = self.table(node["values"], f"{where}.values") if "values" in node else None
        if node.get("default", MISSING) is None:
            self.problem(f"{where}.default", "must not be null")
        optional = node.get("optional", False)
        if not isinstance(optional, bool):
            self.problem(f"{where}.optional", "must be true or false")
        elif optional and not may_be_optional:
            self.problem(f"{where}.optional", "only a data field may be optional")
        prefix = node.get("prefix", "")
        if not isinstance(prefix, str):
            self.problem(f"{where}.prefix", "must be a string")
        replace = self.replacements(node.get("replace", {}), f"{where}.replace")
        fmt = node.get("format")
        if fmt is not None and fmt not in EPOCH_FORMATS:
            self.problem(f"{where}.format", f"must be {one_of(EPOCH_FORMATS)}")
        if len(self.problems) > before:
            return None
        return ValueSpec(
            path=path,
            value=node.get("value", MISSING),
            first_of=first_of,
            values=values,
            default=node.get("default", MISSING),
            optional=bool(optional),
            prefix=prefix,
            replace=replace,
            format=fmt,
        )

    def alternatives(self, node: Any, where: str) -> tuple[ValueSpec, ...]:
        if not isinstance(node, list) or not node:
            self.problem(where, "must be a non-empty array of values to try in order")
            return ()
        specs = [self.spec(alternative, f"{where}[{n}]") for n, alternative in enumerate(node)]
        return tuple(spec for spec in specs if spec is not None)

    def table(self, node: Any, where: str) -> dict[str, Any] | None:
        if not isinstance(node, dict) or not node:
            self.problem(where, "must be a non-empty object from the sender's values to ours")
            return None
        for key, value in node.items():
            if value is None:
                self.problem(f"{where}.{key}", "must not be null")
        return dict(node)

    def replacements(self, node: Any, where: str) -> tuple[tuple[str, str], ...]:
        if not isinstance(node, dict):
            self.problem(where, "must be an object from what to replace to its replacement")
            return ()
        for key, value in node.items():
            if not key or not isinstance(value, str):
                self.problem(f"{where}.{key}", "replaces a non-empty string with a string")
        return tuple((key, value) for key, value in node.items() if key and isinstance(value, str))

    def data(self, node: Any, where: str) -> dict[str, ValueSpec]:
        if not isinstance(node, dict):
            self.problem(where, "must be an object from data field names to values")
            return {}
        for error in document_store_key_errors(node):
            self.problem(f"{where}.{error.field}", error.message)
        specs = {
            name: self.spec(spec, f"{where}.{name}", may_be_optional=True) for name, spec in node.items()
        }
        return {name: spec for name, spec in specs.items() if spec is not None}

    def envelope(self, node: dict[str, Any], where: str) -> dict[str, ValueSpec]:
        specs = {
            name: self.spec(node[name], f"{where}.{name}" if where else name)
            for name in _ENVELOPE_SPECS
            if name in node
        }
        return {name: spec for name, spec in specs.items() if spec is not None}

    def rule(self, node: Any, where: str) -> Rule | None:
        if not isinstance(node, dict):
            self.problem(where, "a rule is an object with our event 'type' and its 'data'")
            return None
        self.keys(node, _RULE_KEYS, where)
        event_type = node.get("type")
        if not isinstance(event_type, str):
            self.problem(
                f"{where}.type", "is required: one of our event types, e.g. 'majorops.incident.declared'"
            )
            return None
        if event_type not in EVENT_DATA_MODELS and event_type not in self.extra_types:
            self.problem(f"{where}.type", unknown_type_message(event_type, self.extra_types))
            return None
        return Rule(event_type, self.data(node.get("data", {}), f"{where}.data"), self.envelope(node, where))

    def rules(self, node: Any) -> dict[str, tuple[Rule, ...]]:
        if not isinstance(node, dict) or not node:
            self.problem("events", "must be a non-empty object from the sender's kinds of event to rules")
            return {}
        out: dict[str, tuple[Rule, ...]] = {}
        for kind, given in node.items():
            listed = given if isinstance(given, list) else [given]
            where = f"events.{kind}"
            if not listed:
                self.problem(where, "must be a rule or a non-empty array of rules")
                continue
            rules = [
                self.rule(rule, f"{where}[{n}]" if isinstance(given, list) else where)
                for n, rule in enumerate(listed)
            ]
            types = [rule.type for rule in rules if rule is not None]
            if len(set(types)) != len(types):
                self.problem(where, "makes the same event type twice (each event's id is made with its type)")
            out[kind] = tuple(rule for rule in rules if rule is not None)
        return out


def parse_mapping(name: str, document: Any, extra_types: frozenset[str] = frozenset()) -> WebhookMapping:
    """The mapping ``document`` (parsed JSON) named ``name``, or :class:`MappingInvalid`."""
    reader = _Reader(extra_types)
    if not MAPPING_NAME.fullmatch(name):
        reader.problem("", f"the name {name!r} must match {MAPPING_NAME.pattern} (lower case)")
    elif name in RESERVED_NAMES:
        reader.problem("", f"the name {name!r} is taken by ingest's own /v1/webhooks/{name}")
    if not isinstance(document, dict):
        raise MappingInvalid([*reader.problems, "a mapping is a JSON object"])
    reader.keys(document, _TOP_KEYS, "")
    description = document.get("description", "")
    if not isinstance(description, str):
        reader.problem("description", "must be a string")
    items = reader.path(document["items"], "items", items=True) if "items" in document else None
    for required in ("kind", "events", "id", *_ENVELOPE_SPECS):
        if required not in document:
            reader.problem(required, "is required")
    kind = reader.spec(document.get("kind"), "kind") if "kind" in document else None
    given_ids = document.get("id", [])
    id_parts = [
        reader.spec(part, f"id[{n}]")
        for n, part in enumerate(given_ids if isinstance(given_ids, list) else [given_ids])
    ]
    if isinstance(given_ids, list) and not given_ids:
        reader.problem("id", "must name at least one value of the sender's event id")
    rules = reader.rules(document.get("events"))
    envelope = reader.envelope(document, "")
    data = reader.data(document.get("data", {}), "data")
    if reader.problems or kind is None:
        raise MappingInvalid(reader.problems)
    return WebhookMapping(
        name=name,
        description=description,
        items=items,
        kind=kind,
        rules=rules,
        id=tuple(part for part in id_parts if part is not None),
        envelope=envelope,
        data=data,
    )


# --- applying a mapping to a payload --------------------------------------------------------------


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
    for attribute in _ENVELOPE_SPECS:
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
