"""Every way a reports request can fail, as RFC 9457 problem documents (values, not exceptions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from majorops.shared.events import FieldError

PROBLEM_BASE = "https://majorops.dev/problems"
PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem: ``errors`` name each bad field, ``extensions`` carry what else helps."""

    status: int
    title: str
    detail: str
    slug: str
    errors: Sequence[FieldError] = ()
    extensions: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": f"{PROBLEM_BASE}/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            doc["errors"] = [error.as_dict() for error in self.errors]
        doc.update(self.extensions)
        return doc


def unknown_incident(incident_id: str) -> Problem:
    return Problem(
        404,
        "Unknown incident",
        f"No event, decision or escalation of incident {incident_id!r} has been recorded",
        "unknown-incident",
    )


def unknown_action_item(incident_id: str, item_id: str) -> Problem:
    return Problem(
        404,
        "Unknown action item",
        f"Incident {incident_id!r} has no action item {item_id!r}",
        "unknown-action-item",
    )


def invalid_input(errors: Sequence[FieldError], what: str = "request") -> Problem:
    fields = ", ".join(dict.fromkeys(error.field for error in errors))
    return Problem(
        422,
        "Invalid input",
        f"The {what} is invalid ({fields}); nothing was changed",
        "invalid-input",
        tuple(errors),
    )


def not_json(reason: str) -> Problem:
    return Problem(
        400, "Body is not JSON", f"The request body could not be parsed as JSON: {reason}", "not-json"
    )


def unavailable(reason: str) -> Problem:
    return Problem(
        503,
        "Event not published",
        f"JetStream did not acknowledge the event, so nothing was changed; retry the request ({reason})",
        "unavailable",
        headers={"Retry-After": "1"},
    )
