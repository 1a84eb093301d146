"""Every way a reports request can fail, as RFC 9457 problem documents (values, not exceptions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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


def precondition_required(etag: str) -> Problem:
    return Problem(
        428,
        "If-Match required",
        "Send the ETag of the review you edited in If-Match (GET /v1/reviews/{incident_id} gives it), "
        "so that your edit cannot overwrite someone else's",
        "precondition-required",
        extensions={"current_etag": etag},
    )


def edit_conflict(etag: str) -> Problem:
    return Problem(
        412,
        "The review changed since you read it",
        "Someone else's edit (or new incident data) changed the review after you read it; nothing was "
        "changed. Read it again (GET) and re-apply your edit with the new ETag",
        "edit-conflict",
        extensions={"current_etag": etag},
        headers={"ETag": etag},
    )


def action_item_exists(incident_id: str, item_id: str) -> Problem:
    return Problem(
        409,
        "Action item exists",
        f"Incident {incident_id!r} already has action item {item_id!r}; "
        f"change it with PATCH /v1/reviews/{incident_id}/action-items/{item_id}",
        "action-item-exists",
    )


def action_item_completed(incident_id: str, item: Mapping[str, Any]) -> Problem:
    return Problem(
        409,
        "Action item already completed",
        f"Action item {item['item_id']!r} of incident {incident_id!r} was completed at {item.get('completed_at')}",
        "action-item-completed",
        extensions={"item": dict(item)},
    )


def review_not_ready(findings: Sequence[Mapping[str, Any]]) -> Problem:
    return Problem(
        409,
        "Review not ready to publish",
        f"{len(findings)} lint error(s) remain; fix them (PATCH the narrative, complete or change the "
        "action items) and publish again",
        "review-not-ready",
        extensions={"findings": [dict(finding) for finding in findings]},
    )


def meeting_not_scheduled(incident_id: str, schedule_by: str | None) -> Problem:
    by = f" (due by {schedule_by})" if schedule_by else ""
    return Problem(
        409,
        "After Action not scheduled",
        f"The After Action meeting of incident {incident_id!r} is not scheduled yet{by}: there is no "
        "time to invite to. Schedule it (majorops.afteraction.scheduled) and ask again",
        "meeting-not-scheduled",
        extensions={"schedule_by": schedule_by},
    )
