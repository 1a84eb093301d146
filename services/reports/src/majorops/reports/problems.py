"""Every way a reports request can fail, as RFC 9457 problem documents (values, not exceptions)."""

from __future__ import annotations

from collections.abc import Sequence

from majorops.shared.events import FieldError
from majorops.shared.problems import Problem


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
