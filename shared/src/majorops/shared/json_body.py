"""Request bodies as strict JSON: what every edge (ingest's HTTP and NATS, reports' HTTP) accepts.

Python's :func:`json.loads` is lenient where a hostile sender profits from it, so a body is parsed
here instead, and refused (``400``, an RFC 9457 problem) when it

- is not UTF-8 (RFC 8259 §8.1; a UTF-8 byte order mark is ignored, as §8.1 allows);
- holds ``NaN``, ``Infinity`` or ``-Infinity`` (not JSON, §6), a number beyond a 64-bit float
  (``1e999`` would become infinity) or an integer beyond 64 bits (what a document store holds;
  Python would also refuse to convert one of over 4,300 digits with an error of its own);
- holds a string with a lone UTF-16 surrogate (``"\\ud800"``: not a character, and not encodable
  as UTF-8 when the event is published);
- repeats a key within one object: JSON leaves the meaning to each reader (§4), and a silent
  "last one wins" is how a forged field hides behind an innocent one;
- nests arrays and objects more than :data:`MAX_JSON_DEPTH` levels deep (the parser would exhaust
  Python's recursion limit at about a thousand, and no contract body needs more than a handful).

Pure: no I/O, no framework.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeAlias

from majorops.shared.events import FieldError, shown
from majorops.shared.problems import Problem

MAX_JSON_DEPTH = 64
"""The most levels of nested arrays and objects a body may have (a lone object or array is 1)."""
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")

_Path: TypeAlias = "tuple[_Path, str | int] | None"
"""Where a value is: (the path of its container, its key or index); ``None`` for the body itself."""


class JsonRefused(ValueError):
    """A body that is not the strict JSON accepted here; :meth:`problem` is the answer to give."""

    def __init__(self, reason: str, *, title: str = "Body is not JSON", slug: str = "not-json") -> None:
        super().__init__(reason)
        self.reason = reason
        self.title = title
        self.slug = slug
        self.errors: tuple[FieldError, ...] = ()

    def problem(self) -> Problem:
        if self.slug == "not-json":
            detail = f"The request body could not be parsed as JSON: {self.reason}"
        else:
            detail = self.reason
        return Problem(400, self.title, detail, self.slug, self.errors)


def too_deep() -> JsonRefused:
    return JsonRefused(
        f"The request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
        f"at most {MAX_JSON_DEPTH} are accepted",
        title="Body nested too deeply",
        slug="too-deep",
    )


def _escaped(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udxxx``: an answer must be encodable as UTF-8."""
    return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def duplicate_key(key: str, path: _Path) -> JsonRefused:
    where = "at the top level" if path is None else f"at {render_path(path)}"
    field = render_path((path, key))
    refused = JsonRefused(
        f"The key {shown(_escaped(key))} appears more than once in one object ({where}); the keys of a JSON "
        "object must be unique, or which value counts is up to each reader",
        title="Duplicate key in a JSON object",
        slug="duplicate-key",
    )
    refused.errors = (FieldError(field, "appears more than once in its object"),)
    return refused


def body_too_large(limit: int, advice: str) -> Problem:
    """``413``: a body over ``limit`` bytes (said before it is read further)."""
    return Problem(413, "Body too large", f"The request body exceeds {limit} bytes; {advice}", "too-large")


class _Duplicated(dict[str, Any]):
    """An object in which ``duplicate`` appeared twice: refused once its place is known."""

    duplicate: str = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    marked = _Duplicated(obj)
    for key, _ in pairs:
        if key in seen:
            marked.duplicate = key
            break
        seen.add(key)
    return marked


def _constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON value (JSON numbers are finite, RFC 8259 §6)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused(f"the number {shown(text, 30)} is out of range (beyond a 64-bit float)")
    return value


def _int(text: str) -> int:
    # Length first: Python refuses to convert integers of over 4,300 digits with an error of its own.
    value = int(text) if len(text.lstrip("-")) <= 19 else None
    if value is None or not INT64_MIN <= value <= INT64_MAX:
        raise JsonRefused(f"the integer {shown(text, 30)} is out of range (beyond 64 bits)")
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_constant, parse_float=_float, parse_int=_int
)


def render_path(path: _Path) -> str:
    """``data.items[0].title``, as problem documents name fields; ``(body)`` for the body itself."""
    parts: list[str | int] = []
    while path is not None:
        path, part = path
        parts.append(part)
    out = ""
    for part in reversed(parts):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{_escaped(part)}" if out else _escaped(part)
    return out or "(body)"


def _checked(value: Any, check_strings: bool) -> None:
    """Refuse the first duplicate key, lone surrogate or nesting beyond the limit (no recursion)."""
    stack: list[tuple[Any, int, _Path]] = [(value, 1, None)]
    while stack:
        node, depth, path = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise too_deep()
        children: list[tuple[str | int, Any]]
        if isinstance(node, dict):
            if isinstance(node, _Duplicated):
                raise duplicate_key(node.duplicate, path)
            children = list(node.items())
            if check_strings:
                for key in node:
                    _check_text(key, (path, key))
        else:
            children = list(enumerate(node))
        for key, child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, (path, key)))
            elif check_strings and isinstance(child, str):
                _check_text(child, (path, key))


def _check_text(text: str, path: _Path) -> None:
    if _SURROGATE.search(text):
        raise JsonRefused(
            f"the string at {render_path(path)} holds a lone UTF-16 surrogate escape (\\ud800–\\udfff "
            "without its pair), which is not a character"
        )


def loads_strict(raw: bytes | str) -> Any:
    """The JSON value of a body, or :class:`JsonRefused` saying precisely why not."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsonRefused(
                f"it is not UTF-8 ({exc.reason}: byte 0x{raw[exc.start]:02x} at offset {exc.start})"
            ) from None
    else:
        text = raw
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonRefused(str(exc)) from None
    except RecursionError:
        raise too_deep() from None
    if isinstance(value, dict | list):
        _checked(value, check_strings=_SURROGATE_ESCAPE.search(text) is not None)
    elif isinstance(value, str) and _SURROGATE.search(value):
        _check_text(value, None)
    return value


def parse_json_body(raw: bytes | str) -> Any | Problem:
    """:func:`loads_strict`, a refusal as its ``400`` problem document."""
    try:
        return loads_strict(raw)
    except JsonRefused as exc:
        return exc.problem()
