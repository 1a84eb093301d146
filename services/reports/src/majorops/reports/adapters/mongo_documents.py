"""Reports' MongoDB documents as the domain's records, and the times and keys they hold."""

from __future__ import annotations

from datetime import datetime

from majorops.reports.domain.listing import ActionItemRecord, ReviewListing
from majorops.reports.domain.timeline import ReviewStatus
from majorops.shared.decisions import Requirement
from majorops.shared.events import Severity, parse_rfc3339
from majorops.shared.storage.eventlog import sortable_utc
from majorops.shared.storage.mongo import MongoDocument


def as_time(value: datetime | None) -> str | None:
    """Fixed-width UTC text, as the event log keeps times: string order is time order."""
    return sortable_utc(value) if value is not None else None


def parse_time(value: str | None) -> datetime | None:
    """A time as :func:`as_time` wrote it, or ``None``."""
    return parse_rfc3339(value) if value is not None else None


def item_key(incident_id: str, item_id: str) -> str:
    """An action item document's ``_id``. Incident ids never hold "/", so it is unambiguous."""
    return f"{incident_id}/{item_id}"


def listing_of(doc: MongoDocument) -> ReviewListing:
    """The listing of a review document."""
    updated_at = parse_time(doc["updated_at"])
    assert updated_at is not None
    return ReviewListing(
        incident_id=str(doc["_id"]),
        title=doc.get("title"),
        severity=Severity(doc["severity"]) if doc.get("severity") else None,
        requirement=Requirement(doc["requirement"]) if doc.get("requirement") else None,
        status=ReviewStatus(doc["status"]),
        next_deadline=parse_time(doc.get("next_deadline")),
        updated_at=updated_at,
        next_deadline_name=doc.get("next_deadline_name"),
        escalation_level=int(doc.get("escalation_level") or 0),
        escalations_fired=int(doc.get("escalations_fired") or 0),
    )


def item_of(doc: MongoDocument) -> ActionItemRecord:
    """The action item of an action item document."""
    return ActionItemRecord(
        incident_id=doc["incident_id"],
        item_id=doc["item_id"],
        title=doc["title"],
        owner=doc.get("owner"),
        due=doc.get("due"),
        due_at=parse_time(doc.get("due_at")),
        status="completed" if doc.get("status") == "completed" else "open",
        completed_at=parse_time(doc.get("completed_at")),
    )
