"""Tracking action items through the API: create, update and complete, each emitted as an event
(:mod:`~majorops.reports.handlers.emit`)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from majorops.reports.commands import ActionItemChanges, NewActionItem
from majorops.reports.handlers.emit import Accepted, emit_new, reports_event
from majorops.reports.handlers.materialise import read_review
from majorops.reports.ports import ReportsPorts, StoredReview
from majorops.reports.problems import (
    action_item_completed,
    action_item_exists,
    unknown_action_item,
    unknown_incident,
)
from majorops.shared.events import EventType
from majorops.shared.problems import Problem

ACTION_ITEM_ID_PREFIX = "AI-"


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
