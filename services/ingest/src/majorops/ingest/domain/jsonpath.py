"""The small, safe subset of JSONPath that webhook mappings use to point into a sender's payload.

- ``$`` is the payload, ``@`` the current item (the payload itself unless the mapping has ``items``);
- ``.name`` a member (a name of letters, digits, ``_`` and ``-``, not starting with a digit or
  ``-``), ``['any key']`` a member of any other name (a name holding ``'`` uses ``["…"]``);
- ``[0]`` an element of an array, ``[-1]`` the last one;
- ``[*]`` every element of an array: only in a mapping's ``items`` (a payload carrying several
  events).

Nothing is evaluated: a path is parsed once, when its mapping is loaded, into keys and indexes, and
looking it up walks the parsed JSON value. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

MAX_PATH_LENGTH = 512
MAX_STEPS = 32
MAX_INDEX_DIGITS = 6

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INDEX = re.compile(r"-?\d+")


class Wildcard:
    """``[*]``: every element of an array."""

    def __repr__(self) -> str:
        return "[*]"


WILDCARD: Final = Wildcard()
Step = str | int | Wildcard


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed path: from the payload (``$``) or from the current item (``@``)."""

    text: str
    relative: bool
    steps: tuple[Step, ...]

    @property
    def wildcards(self) -> int:
        return sum(1 for step in self.steps if isinstance(step, Wildcard))

    def __str__(self) -> str:
        return self.text


def parse_path(text: str) -> JsonPath:
    """``text`` as a :class:`JsonPath`, or ``ValueError`` saying what is wrong and where."""
    if not isinstance(text, str) or not text:
        raise ValueError("a path must be a non-empty string such as '$.event.id'")
    if len(text) > MAX_PATH_LENGTH:
        raise ValueError(f"a path has at most {MAX_PATH_LENGTH} characters")
    if text[0] not in "$@":
        raise ValueError(f"{text!r} must start with '$' (the payload) or '@' (the current item)")
    steps: list[Step] = []
    at = 1
    while at < len(text):
        char = text[at]
        if char == ".":
            name = _NAME.match(text, at + 1)
            if name is None:
                raise ValueError(
                    f"{text!r}: a name must follow the '.' at position {at} (letters, digits, '_', '-'; "
                    "write ['…'] for any other key)"
                )
            steps.append(name.group())
            at = name.end()
        elif char == "[":
            at = _bracket(text, at, steps)
        else:
            raise ValueError(f"{text!r}: unexpected {char!r} at position {at}; expected '.' or '['")
        if len(steps) > MAX_STEPS:
            raise ValueError(f"{text!r}: a path has at most {MAX_STEPS} steps")
    return JsonPath(text, text[0] == "@", tuple(steps))


def _bracket(text: str, at: int, steps: list[Step]) -> int:
    """Parse the ``[…]`` starting at ``at`` into ``steps``; the position after it."""
    quote = text[at + 1 : at + 2]
    if quote in ("'", '"'):
        close = text.find(quote + "]", at + 2)
        if close < 0:
            raise ValueError(f"{text!r}: the [{quote}…{quote}] opened at position {at} is not closed")
        steps.append(text[at + 2 : close])
        return close + 2
    close = text.find("]", at)
    if close < 0:
        raise ValueError(f"{text!r}: the '[' at position {at} is not closed")
    inner = text[at + 1 : close]
    if inner == "*":
        steps.append(WILDCARD)
    elif _INDEX.fullmatch(inner) and len(inner.lstrip("-")) <= MAX_INDEX_DIGITS:
        steps.append(int(inner))
    else:
        raise ValueError(
            f"{text!r}: [{inner}] at position {at} is not an index ([0], [-1]), [*] or a quoted key (['…'])"
        )
    return close + 1


def render(steps: tuple[str | int, ...], root: str = "$") -> str:
    """A concrete location as problem documents name it: ``$.alerts[2].labels['service.name']``."""
    out = root
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _NAME.fullmatch(step):
            out += f".{step}"
        else:
            quote = '"' if "'" in step else "'"
            out += f"[{quote}{step}{quote}]"
    return out


def describe(value: Any) -> str:
    """What kind of JSON value ``value`` is, for messages: 'an object', 'a string', …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return "a number"


@dataclass(frozen=True, slots=True)
class Found:
    """A value at a concrete location of the payload."""

    where: str
    value: Any


@dataclass(frozen=True, slots=True)
class NotFound:
    """A path that leads nowhere: ``where`` is the path (made concrete), ``reason`` why."""

    where: str
    reason: str


def lookup(
    path: JsonPath, payload: Any, item: Any, item_steps: tuple[str | int, ...] = ()
) -> Found | NotFound:
    """The value ``path`` (without wildcards) points at; ``null`` counts as not there.

    ``item``/``item_steps``: the current item and where it is in the payload, for ``@`` paths (the
    payload itself and ``()`` when a mapping has no ``items``).
    """
    node, base = (item, item_steps) if path.relative else (payload, ())
    if any(isinstance(step, Wildcard) for step in path.steps):
        raise ValueError("lookup() takes a path without [*]; use items()")
    where = render((*base, *(step for step in path.steps if not isinstance(step, Wildcard))))
    concrete = [*base]
    for step in path.steps:
        if isinstance(step, str):
            if not isinstance(node, dict):
                return NotFound(where, _wrong(node, concrete, "an object"))
            if step not in node:
                return NotFound(where, "not found")
            node = node[step]
            concrete.append(step)
        elif isinstance(step, int):
            if not isinstance(node, list):
                return NotFound(where, _wrong(node, concrete, "an array"))
            if not -len(node) <= step < len(node):
                return NotFound(where, f"not found ({render(tuple(concrete))} has {len(node)} element(s))")
            index = step % len(node)
            node = node[index]
            concrete.append(index)
    if node is None:
        return NotFound(render(tuple(concrete)), "is null")
    return Found(render(tuple(concrete)), node)


def items(path: JsonPath, payload: Any) -> list[tuple[tuple[str | int, ...], Any]] | NotFound:
    """Every element ``path`` (with one ``[*]``) points at, with its concrete location's steps."""
    nodes: list[tuple[tuple[str | int, ...], Any]] = [((), payload)]
    for step in path.steps:
        following: list[tuple[tuple[str | int, ...], Any]] = []
        for steps, node in nodes:
            if isinstance(step, Wildcard):
                if not isinstance(node, list):
                    return NotFound(render(steps), f"is {describe(node)}, not an array")
                following.extend(((*steps, index), child) for index, child in enumerate(node))
            elif isinstance(step, str):
                if not isinstance(node, dict) or step not in node:
                    reason = "not found" if isinstance(node, dict) else _wrong(node, list(steps), "an object")
                    return NotFound(render((*steps, step)), reason)
                following.append(((*steps, step), node[step]))
            else:
                if not isinstance(node, list) or not -len(node) <= step < len(node):
                    return NotFound(render((*steps, step)), "not found")
                following.append(((*steps, step % len(node)), node[step]))
        nodes = following
    return nodes


def _wrong(node: Any, concrete: list[str | int], expected: str) -> str:
    return f"not found ({render(tuple(concrete))} is {describe(node)}, not {expected})"
