"""Pure rules of ingest: what a request body must be, and which of its events are new."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from majorops.shared.events import CloudEvent, EventValidationError, FieldError, validate_event
from majorops.shared.problems import Problem

MAX_BATCH = 1000
MAX_BODY_BYTES = 1024 * 1024


def not_json(reason: str) -> Problem:
    return Problem(
        400, "Body is not JSON", f"The request body could not be parsed as JSON: {reason}", "not-json"
    )


def too_large(limit: int = MAX_BODY_BYTES) -> Problem:
    return Problem(
        413, "Body too large", f"The request body exceeds {limit} bytes; split the batch", "too-large"
    )


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
        try:
            events.append(validate_event(item, extra_types))
        except EventValidationError as exc:
            failed += 1
            errors.extend(FieldError(e.field, e.message, index) for e in exc.errors)
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
