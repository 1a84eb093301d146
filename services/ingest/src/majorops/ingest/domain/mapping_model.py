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

This module is the parsed mapping: what :func:`~majorops.ingest.domain.mapping_reader.parse_mapping`
makes of a mapping document and :func:`~majorops.ingest.domain.mapping_payload.map_payload` applies
to a payload. Pure; reading the files is ingest's (:mod:`majorops.ingest.mapping_files`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from majorops.ingest.domain.jsonpath import JsonPath

MAPPING_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
"""A mapping's name (its file name without ``.json``): the last segment of ``/v1/webhooks/<name>``."""
RESERVED_NAMES = frozenset({"alertmanager"})
"""Names of the webhooks ingest serves with code of its own; a mapping cannot take them."""

EPOCH_FORMATS: Mapping[str, int] = {"epoch_s": 1, "epoch_ms": 10**3, "epoch_us": 10**6, "epoch_ns": 10**9}
"""``format`` of a value: a Unix time in these units (a number, or a string of digits) → RFC 3339."""
ENVELOPE_SPECS = ("subject", "time", "source")
"""The envelope attributes a mapping (or one of its rules) gives a value spec for."""
FROM_MAPPING = "(mapping)"
"""Where a value came from when the mapping gives it (a constant), not the payload."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


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
