"""Pure rules of ingest: what a request body must be, and which of its events are new."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from majorops.shared.events import (
    AUTH_ATTRIBUTES,
    CloudEvent,
    EventValidationError,
    FieldError,
    validate_event,
)
from majorops.shared.json_body import body_too_large
from majorops.shared.problems import Problem

MAX_BATCH = 1000
MAX_BODY_BYTES = 1024 * 1024
MAX_ALERTMANAGER_BODY_BYTES = 16 * 1024 * 1024
"""An Alertmanager notification carries a whole group (thousands of alerts for a large outage)
and cannot be split by its sender; it is accepted up to 16 MiB (about 40,000 alerts)."""


def not_json(reason: str) -> Problem:
    return Problem(
        400, "Body is not JSON", f"The request body could not be parsed as JSON: {reason}", "not-json"
    )


def too_large(limit: int = MAX_BODY_BYTES, advice: str = "split the batch") -> Problem:
    return body_too_large(limit, advice)


AUTH_CLAIMED = "set by ingest from the request's credentials (the token's name); a sender cannot claim it"


def _has(item: Any, name: str) -> bool:
    return isinstance(item, dict) and name in item


def validate_batch(
    body: Any, extra_types: frozenset[str] = frozenset(), limit: int | None = MAX_BATCH
) -> list[CloudEvent] | Problem:
    """Validate a body that is one envelope or an array of up to ``limit`` (:data:`MAX_BATCH` for
    what senders post; ``None`` for events ingest derived itself, e.g. from an Alertmanager
    notification, whose size its sender does not control). All or nothing."""
    items: list[Any]
    if isinstance(body, list):
        if not body:
            return Problem(422, "Empty batch", "The array holds no event", "invalid-events")
        if limit is not None and len(body) > limit:
            return Problem(
                422,
                "Batch too large",
                f"The array holds {len(body)} events; at most {limit} are accepted per request",
                "invalid-events",
                (FieldError("(body)", f"at most {limit} events per request, got {len(body)}"),),
            )
        items = body
    else:
        items = [body]
    events: list[CloudEvent] = []
    errors: list[FieldError] = []
    failed = 0
    for index, item in enumerate(items):
        problems = [FieldError(name, AUTH_CLAIMED, index) for name in AUTH_ATTRIBUTES if _has(item, name)]
        try:
            event = validate_event(item, extra_types)
        except EventValidationError as exc:
            problems[:0] = [FieldError(e.field, e.message, index) for e in exc.errors]
        else:
            events.append(event)
        if problems:
            failed += 1
            errors.extend(problems)
    if errors:
        return Problem(
            422,
            "Invalid events",
            f"{len(errors)} problem(s) in {failed} of {len(items)} event(s); nothing was published",
            "invalid-events",
            tuple(errors),
        )
    return events


@dataclass
class IngestOutcome:
    accepted: int = 0
    duplicates: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates}


def content_digest(event: CloudEvent) -> str:
    """What an event says, as SHA-256 (hex) of its canonical JSON (keys sorted, no spaces) as it is
    published, without the ``authtype``/``authid`` that say who sent it: the same event sent by
    another sender, or over NATS rather than HTTP, is the same content."""
    return wire_digest(event.to_wire())


def wire_digest(wire: Mapping[str, Any]) -> str:
    """:func:`content_digest` of an event as published (its JSON object, e.g. read back from the
    stream): the same digest as of the event it was published from."""
    content = {key: value for key, value in wire.items() if key not in AUTH_ATTRIBUTES}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IdConflict:
    """The event at ``index`` of a request reuses the id of an event with other content: one
    earlier in the same request (``earlier``), or one accepted before (``earlier`` is None)."""

    index: int
    event_id: str
    earlier: int | None = None

    def as_error(self) -> FieldError:
        where = (
            f"event {self.earlier} of this request"
            if self.earlier is not None
            else "an event accepted before"
        )
        return FieldError(
            "id", f"{self.event_id!r} is already the id of {where}, with other content", self.index
        )


def conflicting_ids(conflicts: Sequence[IdConflict]) -> Problem:
    """``409``: an id names one event; the same id with other content is refused, never counted as
    a duplicate (that is how a changed or forged fact would be silently dropped, or hidden)."""
    return Problem(
        409,
        "Event id reused with other content",
        f"{len(conflicts)} event(s) of this request reuse the id of an event with other content; "
        "nothing was published. An event id names one event: send a changed fact as a new event "
        "with an id of its own",
        "id-conflict",
        tuple(conflict.as_error() for conflict in conflicts),
    )


@dataclass
class UniqueEvents:
    """A request's events with each id once (the first), and what the repeats were."""

    positions: list[int] = field(default_factory=list)
    """Index in the request of each id's first event, in request order."""
    repeats: int = 0
    """Events with the id and the content of an earlier one: duplicates."""
    conflicts: list[IdConflict] = field(default_factory=list)


def unique_events(events: Sequence[CloudEvent], digests: Sequence[str]) -> UniqueEvents:
    """Each id's first event; a later one with the same content is a duplicate, with other content
    a conflict."""
    first: dict[str, int] = {}
    result = UniqueEvents()
    for index, event in enumerate(events):
        earlier = first.get(event.id)
        if earlier is None:
            first[event.id] = index
            result.positions.append(index)
        elif digests[earlier] == digests[index]:
            result.repeats += 1
        else:
            result.conflicts.append(IdConflict(index, event.id, earlier))
    return result
