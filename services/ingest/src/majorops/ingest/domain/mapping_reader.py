"""Reading a webhook mapping document (parsed JSON) into a :class:`WebhookMapping`, collecting every
problem with where it is. Pure: reading the files is ingest's (:mod:`majorops.ingest.mapping_files`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from majorops.ingest.domain.jsonpath import JsonPath, parse_path
from majorops.ingest.domain.mapping_model import (
    ENVELOPE_SPECS,
    EPOCH_FORMATS,
    MAPPING_NAME,
    MISSING,
    RESERVED_NAMES,
    MappingInvalid,
    Rule,
    ValueSpec,
    WebhookMapping,
)
from majorops.shared.events import EVENT_DATA_MODELS, document_store_key_errors, one_of, unknown_type_message

_TOP_KEYS = ("description", "items", "kind", "events", "id", "subject", "time", "source", "data")
_RULE_KEYS = ("type", "description", "subject", "time", "source", "data")
_SPEC_KEYS = ("path", "value", "first_of", "values", "default", "optional", "prefix", "replace", "format")


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
            for name in ENVELOPE_SPECS
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
    for required in ("kind", "events", "id", *ENVELOPE_SPECS):
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
