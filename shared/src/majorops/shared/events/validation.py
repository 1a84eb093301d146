"""Validating an envelope all-or-nothing, reporting every problem with its field path, so that
ingest can answer a batch with one precise problem document."""

from __future__ import annotations

import difflib
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from majorops.shared.events.data import EVENT_DATA_MODELS, EventType
from majorops.shared.events.envelope import CloudEvent
from majorops.shared.events.fields import normalise_severity, one_of, shown

_SEVERITY_TYPES = frozenset({EventType.INCIDENT_DECLARED, EventType.INCIDENT_UPDATED})


@dataclass(frozen=True, slots=True)
class FieldError:
    """One validation problem: where (a JSON path such as ``data.severity``) and why."""

    field: str
    message: str
    index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.index is not None:
            out["index"] = self.index
        return out


class EventValidationError(ValueError):
    """Raised with every problem of one envelope."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


def _loc(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path or "(envelope)"


def _errors_from(exc: ValidationError, prefix: str) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        # Strict-type errors name the Python type; say what JSON was expected instead.
        if err["type"] in {"string_type"}:
            message = "must be a string"
        elif err["type"] in {"int_type"}:
            message = "must be an integer"
        elif err["type"] in {"bool_type"}:
            message = "must be true or false"
        elif err["type"] == "missing":
            message = "is required"
        out.append(FieldError(_loc(prefix, tuple(err["loc"])), message))
    return out


def unknown_type_message(event_type: str, extra_types: Iterable[str] = ()) -> str:
    """Why ``event_type`` is refused, naming the closest known type (a typo, usually) and every
    known one: the types of CONTRACT §1 in contract order, then the deployment's own, sorted."""
    known = [t.value for t in EventType] + sorted(set(extra_types) - set(EVENT_DATA_MODELS))
    close = difflib.get_close_matches(event_type, known, n=1, cutoff=0.8)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown event type {shown(event_type)}{hint}; must be {one_of(known)}"


def _key_problem(key: object) -> str | None:
    if not isinstance(key, str):
        return "must be a string"
    if key.startswith("$"):
        return "a key must not start with '$': a document store (MongoDB) reads it as an operator"
    if "." in key:
        return "a key must not contain '.': a document store (MongoDB) reads it as a path"
    if "\x00" in key:
        return "a key must not contain the NUL character: a document store (MongoDB) cannot hold it"
    return None


def document_store_key_errors(raw: Mapping[str, Any]) -> list[FieldError]:
    """Every key, at any depth of an envelope (its ``data`` above all), that a document store would
    interpret rather than keep: one starting with ``$`` (an operator, ``$where``), one holding a
    ``.`` (a path) or the NUL character. The record keeps what it was sent, so such keys are refused
    (``data.$where``), the same way by ingest, by reports for its own events and by every consumer."""
    errors: list[FieldError] = []
    queue: deque[tuple[object, str]] = deque([(raw, "")])
    while queue:
        node, path = queue.popleft()
        if isinstance(node, Mapping):
            for key, child in node.items():
                where = f"{path}.{key}" if path else str(key)
                problem = _key_problem(key)
                if problem is not None:
                    errors.append(FieldError(where, problem))
                queue.append((child, where))
        elif isinstance(node, list):
            queue.extend((child, f"{path}[{index}]") for index, child in enumerate(node))
    return errors


EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")
"""CloudEvents 1.0 §3.1.1: an attribute name is lower-case ASCII letters and digits, and should be
at most 20 characters."""
_INT32 = range(-(2**31), 2**31)


def extension_attribute_errors(raw: Mapping[str, Any]) -> list[FieldError]:
    """Extension attributes (every top-level key the contract does not name) as CloudEvents 1.0 has
    them: a name of lower-case letters and digits (at most 20), a value that is a string, a 32-bit
    integer or a boolean (the JSON forms of the spec's attribute types; null means absent).

    Why so strict, and not merely "kept": an event is stored whole and its envelope read by other
    parties, so an extension must not be able to carry a second document — an object, or the
    underscored names of the internal payloads (``escalation_id``, ``stream_name``, ``config``
    as an object) — that a reader might take for a decision, an escalation or a JetStream request
    (issue 20). The spec's own rules already exclude all of that."""
    errors: list[FieldError] = []
    for key, value in raw.items():
        if not isinstance(key, str) or key in CloudEvent.model_fields:
            continue
        if not EXTENSION_NAME.fullmatch(key):
            errors.append(
                FieldError(
                    key or "(envelope)",
                    f"an extension attribute's name is lower-case letters and digits, at most 20 "
                    f"(CloudEvents 1.0); got {shown(key)}",
                )
            )
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        elif isinstance(value, int) and value in _INT32:
            continue
        else:
            errors.append(
                FieldError(
                    key,
                    "an extension attribute is a string, a 32-bit integer or true/false "
                    "(CloudEvents 1.0), not an object, array or fraction",
                )
            )
    return errors


def validate_event(raw: object, extra_types: frozenset[str] = frozenset()) -> CloudEvent:
    """Validate one envelope and return it normalised; raise :class:`EventValidationError`.

    Every problem is reported, for the envelope and for ``data`` alike.
    """
    if not isinstance(raw, Mapping):
        raise EventValidationError([FieldError("(envelope)", "must be a JSON object")])
    errors: list[FieldError] = document_store_key_errors(raw) + extension_attribute_errors(raw)
    envelope: CloudEvent | None = None
    try:
        envelope = CloudEvent.model_validate(raw)
    except ValidationError as exc:
        errors.extend(_errors_from(exc, ""))

    event_type = raw.get("type")
    known = isinstance(event_type, str) and (event_type in EVENT_DATA_MODELS or event_type in extra_types)
    if isinstance(event_type, str) and not known:
        errors = [e for e in errors if e.field != "type"]
        errors.append(FieldError("type", unknown_type_message(event_type, extra_types)))
    data = raw.get("data", {})
    normalised_data: dict[str, Any] | None = None
    if isinstance(data, Mapping) and isinstance(event_type, str) and event_type in EVENT_DATA_MODELS:
        try:
            EVENT_DATA_MODELS[event_type].model_validate(data)
            normalised_data = dict(data)
            if event_type in _SEVERITY_TYPES and normalised_data.get("severity") is not None:
                normalised_data["severity"] = normalise_severity(normalised_data["severity"])
        except ValidationError as exc:
            errors.extend(_errors_from(exc, "data"))
    if errors:
        raise EventValidationError(_dedupe(errors))
    assert envelope is not None
    if normalised_data is not None:
        envelope = envelope.model_copy(update={"data": normalised_data})
    return envelope


def _dedupe(errors: list[FieldError]) -> list[FieldError]:
    seen: set[tuple[str, str]] = set()
    out = []
    for error in errors:
        key = (error.field, error.message)
        if key not in seen:
            seen.add(key)
            out.append(error)
    return out
