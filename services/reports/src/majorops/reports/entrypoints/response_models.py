"""The bodies reports answers with over HTTP besides the review itself: list pages and accepted changes
(the OpenAPI document's schemas of them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from majorops.reports.domain.action_items import ActionItemStatus
from majorops.reports.domain.listing import ActionItemRecord, ReviewListing
from majorops.reports.domain.timeline import ReviewStatus
from majorops.shared.decisions import Requirement, UtcTime
from majorops.shared.events import Severity


class ReviewListItem(BaseModel):
    """One review in ``GET /v1/reviews``."""

    incident_id: str
    title: str | None
    severity: Severity | None
    requirement: Requirement | None
    """``null`` until policy has decided."""
    status: ReviewStatus
    next_deadline: UtcTime | None
    """The earliest After Action deadline set and not yet met."""
    overdue: bool
    next_deadline_name: str | None
    """Which deadline ``next_deadline`` is: ``schedule_by``, ``draft_due``, ``hold_by``,
    ``publish_by`` or ``action_review_at``."""
    escalation_level: int
    """The highest escalation level (1–3) fired for an obligation the record does not show met
    yet; 0 when none is open."""
    escalations_fired: int
    """Every escalation level fired for the incident, met ones included."""
    updated_at: UtcTime
    """When the review's content last changed."""

    @classmethod
    def of(cls, listing: ReviewListing, now: datetime) -> ReviewListItem:
        return cls(
            incident_id=listing.incident_id,
            title=listing.title,
            severity=listing.severity,
            requirement=listing.requirement,
            status=listing.status,
            next_deadline=listing.next_deadline,
            overdue=listing.next_deadline is not None and listing.next_deadline <= now,
            next_deadline_name=listing.next_deadline_name,
            escalation_level=listing.escalation_level,
            escalations_fired=listing.escalations_fired,
            updated_at=listing.updated_at,
        )


class ReviewPage(BaseModel):
    items: list[ReviewListItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class ActionItemListItem(BaseModel):
    """One action item in ``GET /v1/action-items``."""

    incident_id: str
    item_id: str
    title: str
    owner: str | None
    due: str | None
    status: ActionItemStatus
    completed_at: UtcTime | None
    overdue: bool

    @classmethod
    def of(cls, record: ActionItemRecord, now: datetime) -> ActionItemListItem:
        return cls(
            incident_id=record.incident_id,
            item_id=record.item_id,
            title=record.title,
            owner=record.owner,
            due=record.due,
            status=record.status,
            completed_at=record.completed_at,
            overdue=record.overdue(now),
        )


class ActionItemPage(BaseModel):
    items: list[ActionItemListItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class AcceptedItem(BaseModel):
    item_id: str
    title: str
    owner: str | None = None
    due: str | None = None
    status: ActionItemStatus
    completed_at: str | None = None


class AcceptedChange(BaseModel):
    """``202``: the change was published as an event; ``item`` is the action item as it will be."""

    event_id: str
    incident_id: str
    item: AcceptedItem | None = None
    status: ReviewStatus | None = None
