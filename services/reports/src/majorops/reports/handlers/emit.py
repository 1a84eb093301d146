"""Emitting an event: what a change made through the API becomes.

Action items and publication are events: each is validated against the contract
(:func:`reports_event`), published to JetStream (acknowledged, or the request fails with ``503``
and nothing changes) and then recorded here at once with the stream sequence JetStream gave it,
exactly as the consumer will record it again (:func:`emit`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog

from majorops.reports.handlers.consume import apply_event
from majorops.reports.handlers.materialise import assemble_review
from majorops.reports.ports import ReportsPorts
from majorops.reports.problems import invalid_input, unavailable
from majorops.shared.decisions import format_utc
from majorops.shared.events import (
    AUTH_API_KEY,
    CloudEvent,
    EventType,
    EventValidationError,
    FieldError,
    validate_event,
)
from majorops.shared.outcomes import UnacknowledgedPublish
from majorops.shared.problems import Problem

log = structlog.get_logger(__name__)

REPORTS_SOURCE = "majorops/reports"
"""The CloudEvents ``source`` of every event reports emits."""


@dataclass(frozen=True)
class Accepted:
    """A change accepted as an event (``202``): its id, and the item as it will be."""

    event_id: str
    incident_id: str
    item: dict[str, Any] | None = None
    status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"event_id": self.event_id, "incident_id": self.incident_id}
        if self.item is not None:
            body["item"] = self.item
        if self.status is not None:
            body["status"] = self.status
        return body


def reports_event(
    incident_id: str,
    event_type: EventType,
    data: dict[str, Any],
    ports: ReportsPorts,
    event_id: str | None = None,
    *,
    author: str,
) -> CloudEvent | Problem:
    """An event reports emits, validated by the contract; a 422 naming the field when it is not valid.
    It records ``author`` (the name of the write token of the request) as its ``authid``."""
    raw = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": REPORTS_SOURCE,
        "type": event_type.value,
        "time": format_utc(ports.clock()),
        "subject": incident_id,
        "datacontenttype": "application/json",
        "data": data,
    }
    try:
        return validate_event(raw, ports.extra_types).written_by(AUTH_API_KEY, author)
    except EventValidationError as exc:
        # The caller sent the data fields as the body: name them as they were sent.
        return invalid_input([FieldError(e.field.removeprefix("data."), e.message) for e in exc.errors])


async def emit(event: CloudEvent, ports: ReportsPorts) -> int | Problem:
    """Publish the event (acknowledged or a 503 problem), then record it here at once."""
    try:
        arrival = await ports.publisher.publish(event)
    except UnacknowledgedPublish as exc:
        log.warning(
            "reports.publish_unacknowledged", incident_id=event.incident_id, event_id=event.id, error=str(exc)
        )
        return unavailable(str(exc))
    try:
        # Read your own write: the consumer will record the same event with the same arrival again.
        await apply_event(event, arrival, ports)
        await assemble_review(event.incident_id, ports)
    except Exception as exc:  # published all the same: the consumer records it
        log.warning(
            "reports.local_record_failed", incident_id=event.incident_id, event_id=event.id, error=str(exc)
        )
    log.info(
        "reports.event_emitted",
        incident_id=event.incident_id,
        event_id=event.id,
        type=event.type,
        by=event.author,
    )
    return arrival


async def emit_new(made: CloudEvent | Problem, ports: ReportsPorts) -> CloudEvent | Problem:
    """:func:`emit` what :func:`reports_event` made: the event as published, or why it was not (the
    event's own problem, or the publication's)."""
    if isinstance(made, Problem):
        return made
    emitted = await emit(made, ports)
    return emitted if isinstance(emitted, Problem) else made
