"""Acting: what people do through the API — edit the narrative, track action items, publish.

Edits of the narrative are checked against the review the editor read (its ETag) and saved with
compare-and-set, so two editors cannot overwrite each other. Action items and publication are
events: each is validated against the contract, published to JetStream (acknowledged, or the
request fails with 503 and nothing changes) and then recorded here at once with the stream
sequence JetStream gave it, exactly as the consumer will record it again.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from majorops.reports.commands import ActionItemChanges, NarrativeEdit, NewActionItem
from majorops.reports.domain.document import Narrative
from majorops.reports.domain.lint_findings import blocking_findings
from majorops.reports.domain.timeline import ReviewStatus
from majorops.reports.handlers.consume import apply_event
from majorops.reports.handlers.materialise import assemble_review, learning_review_of, read_review
from majorops.reports.ports import ReportsPorts, StoredReview
from majorops.reports.problems import (
    action_item_completed,
    action_item_exists,
    edit_conflict,
    invalid_input,
    precondition_required,
    review_not_ready,
    unavailable,
    unknown_action_item,
    unknown_incident,
)
from majorops.shared.decisions import format_utc
from majorops.shared.events import (
    AUTH_API_KEY,
    CloudEvent,
    EventType,
    EventValidationError,
    FieldError,
    validate_event,
)
from majorops.shared.jetstream import UnacknowledgedPublish
from majorops.shared.problems import Problem

log = structlog.get_logger(__name__)

REPORTS_SOURCE = "majorops/reports"
"""The CloudEvents ``source`` of every event reports emits."""
ACTION_ITEM_ID_PREFIX = "AI-"
NARRATIVE_SECTIONS = tuple(NarrativeEdit.model_fields)


# --- editing the narrative ------------------------------------------------------------------


def etag_matches(if_match: str, etag: str) -> bool:
    """RFC 9110 ``If-Match``: ``*``, or one of the listed tags equal to ``etag`` (strong comparison:
    a weak tag never matches)."""
    if if_match.strip() == "*":
        return True
    return any(candidate.strip() == etag for candidate in if_match.split(","))


async def edit_narrative(
    incident_id: str, patch: NarrativeEdit, if_match: str | None, ports: ReportsPorts, *, author: str
) -> StoredReview | Problem:
    """Apply a narrative patch (JSON merge patch: a section given replaces it, ``null`` returns it to
    what the record says) to the review whose ETag is ``if_match``."""
    stored = await read_review(incident_id, ports)
    if stored is None:
        return unknown_incident(incident_id)
    if not patch.model_fields_set:
        return invalid_input(
            [FieldError("(body)", f"needs at least one of: {', '.join(NARRATIVE_SECTIONS)}")], "narrative"
        )
    if if_match is None or not if_match.strip():
        return precondition_required(stored.etag)
    if not etag_matches(if_match, stored.etag):
        return edit_conflict(stored.etag)
    current = await ports.store.narrative_for(incident_id)
    changes = patch.narrative_changes()
    merged = (current.narrative or Narrative()).model_copy(update=changes)
    saved = None
    if current.version == stored.narrative_version:
        saved = await ports.store.save_narrative(incident_id, merged, current.version)
    if saved is None:
        # Another edit landed after the review the editor read: theirs stays, this one is refused.
        latest = await assemble_review(incident_id, ports)
        return edit_conflict(latest.stored.etag)
    log.info(
        "reports.narrative_edited",
        incident_id=incident_id,
        version=saved,
        sections=sorted(changes),
        by=author,
    )
    return (await assemble_review(incident_id, ports)).stored


# --- events reports emits -----------------------------------------------------------------


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


@dataclass(frozen=True)
class AlreadyPublished:
    """``POST /publish`` of a review already published: nothing new happens (``200``)."""

    incident_id: str
    published_at: datetime | None
    event_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "status": ReviewStatus.PUBLISHED.value,
            "published_at": format_utc(self.published_at) if self.published_at else None,
            "event_id": self.event_id,
        }


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


# --- action items ---------------------------------------------------------------------------


def _items_of(stored: StoredReview) -> dict[str, dict[str, Any]]:
    return {item["item_id"]: item for item in stored.document.get("action_items", [])}


async def _item_of(incident_id: str, item_id: str, ports: ReportsPorts) -> dict[str, Any] | Problem:
    stored = await read_review(incident_id, ports)
    if stored is None:
        return unknown_incident(incident_id)
    item = _items_of(stored).get(item_id)
    return unknown_action_item(incident_id, item_id) if item is None else item


def _new_item_id(taken: set[str]) -> str:
    while True:
        candidate = f"{ACTION_ITEM_ID_PREFIX}{uuid.uuid4().hex[:8]}"
        if candidate not in taken:
            return candidate


def public_item(item: dict[str, Any]) -> dict[str, Any]:
    """An action item as a ``202`` shows it."""
    return {key: item.get(key) for key in ("item_id", "title", "owner", "due", "status", "completed_at")}


async def create_action_item(
    incident_id: str, body: NewActionItem, ports: ReportsPorts, *, author: str
) -> Accepted | Problem:
    """Emit ``majorops.actionitem.created`` for a new item of a known incident."""
    stored = await read_review(incident_id, ports)
    if stored is None:
        return unknown_incident(incident_id)
    existing = _items_of(stored)
    if body.item_id is not None and body.item_id in existing:
        return action_item_exists(incident_id, body.item_id)
    item_id = body.item_id or _new_item_id(set(existing))
    data = {"item_id": item_id, **body.model_dump(exclude={"item_id"}, exclude_none=True)}
    made = reports_event(incident_id, EventType.ACTIONITEM_CREATED, data, ports, author=author)
    event = await emit_new(made, ports)
    if isinstance(event, Problem):
        return event
    item = {"item_id": item_id, "title": body.title, "owner": body.owner, "due": body.due}
    return Accepted(event.id, incident_id, {**item, "status": "open", "completed_at": None})


async def update_action_item(
    incident_id: str, item_id: str, changes: ActionItemChanges, ports: ReportsPorts, *, author: str
) -> Accepted | Problem:
    """Emit ``majorops.actionitem.updated`` with the fields given."""
    item = await _item_of(incident_id, item_id, ports)
    if isinstance(item, Problem):
        return item
    data = {"item_id": item_id, **changes.as_data()}
    made = reports_event(incident_id, EventType.ACTIONITEM_UPDATED, data, ports, author=author)
    event = await emit_new(made, ports)
    if isinstance(event, Problem):
        return event
    return Accepted(event.id, incident_id, public_item({**item, **changes.as_data()}))


def completion_event_id(incident_id: str, item_id: str) -> str:
    """One id per item's completion, so a retried request is one event (JetStream and every store
    deduplicate it)."""
    return "reports-completed-" + hashlib.sha256(f"{incident_id}/{item_id}".encode()).hexdigest()[:32]


def publication_event_id(incident_id: str) -> str:
    """One id per review's publication, so a retried request is one event."""
    return f"reports-published-{incident_id}"


async def complete_action_item(
    incident_id: str, item_id: str, ports: ReportsPorts, *, author: str
) -> Accepted | Problem:
    """Emit ``majorops.actionitem.completed`` for an open item."""
    item = await _item_of(incident_id, item_id, ports)
    if isinstance(item, Problem):
        return item
    if item.get("status") == "completed":
        return action_item_completed(incident_id, public_item(item))
    made = reports_event(
        incident_id,
        EventType.ACTIONITEM_COMPLETED,
        {"item_id": item_id},
        ports,
        completion_event_id(incident_id, item_id),
        author=author,
    )
    event = await emit_new(made, ports)
    if isinstance(event, Problem):
        return event
    done = {**item, "status": "completed", "completed_at": event.time}
    return Accepted(event.id, incident_id, public_item(done))


# --- publication ----------------------------------------------------------------------------


async def publish_review(
    incident_id: str, ports: ReportsPorts, *, author: str
) -> Accepted | AlreadyPublished | Problem:
    """Emit ``majorops.review.published`` unless a lint error remains (409 listing them)."""
    stored = await read_review(incident_id, ports)
    if stored is None:
        return unknown_incident(incident_id)
    review = learning_review_of(stored)
    if review.status == ReviewStatus.PUBLISHED:
        published = [
            entry.event_id for entry in review.timeline if entry.type == EventType.REVIEW_PUBLISHED.short
        ]
        return AlreadyPublished(incident_id, review.published_at, published[0] if published else None)
    blocking = blocking_findings(review.lint)
    if blocking:
        return review_not_ready([finding.model_dump(mode="json") for finding in blocking])
    made = reports_event(
        incident_id, EventType.REVIEW_PUBLISHED, {}, ports, publication_event_id(incident_id), author=author
    )
    event = await emit_new(made, ports)
    if isinstance(event, Problem):
        return event
    log.info("reports.review_published", incident_id=incident_id, event_id=event.id, by=author)
    return Accepted(event.id, incident_id, status=ReviewStatus.PUBLISHED.value)
