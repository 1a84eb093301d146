"""What the lists of reviews and action items show, derived from an assembled review.

A review is listed with its headline (title, severity, requirement, status) and its next
deadline: the earliest After Action deadline that is set and not yet met. Which deadlines are
obligations, and what meets each, follows the reminders table of CONTRACT §4:

| deadline           | an obligation when      | met by                                 |
|--------------------|-------------------------|----------------------------------------|
| ``schedule_by``    | requirement mandatory   | a meeting scheduled (or rescheduled)   |
| ``hold_by``        | requirement mandatory   | ``afteraction.held``                   |
| ``draft_due``      | always (once set)       | ``afteraction.draft_distributed``      |
| ``publish_by``     | always (once set)       | ``review.published``                   |
| ``action_review_at`` | always (once set)     | every action item completed            |

A deadline met late is met: lateness is what escalations are for, the list shows what is left.

The list also shows the escalation level a person is at: the highest level fired for an obligation
the record does not show met yet (:data:`_ESCALATION_MET`: what meets each kind of CONTRACT §4), so a
board needs one request, not one per incident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from majorops.reports.domain.action_items import ActionItem, ActionItemStatus
from majorops.reports.domain.document import LearningReview
from majorops.reports.domain.timeline import ReviewStatus
from majorops.shared.decisions import Requirement
from majorops.shared.events import Severity, due_moment


def _mandatory(review: LearningReview) -> bool:
    return review.after_action.requirement == Requirement.MANDATORY


_DEADLINE_MET: tuple[tuple[str, Callable[[LearningReview], bool], Callable[[LearningReview], bool]], ...] = (
    # (deadline, is it an obligation, is it met)
    ("schedule_by", _mandatory, lambda r: r.after_action.meeting_at is not None),
    ("hold_by", _mandatory, lambda r: r.after_action.held_at is not None),
    ("draft_due", lambda r: True, lambda r: r.after_action.draft_distributed_at is not None),
    ("publish_by", lambda r: True, lambda r: r.status == ReviewStatus.PUBLISHED),
    ("action_review_at", lambda r: True, lambda r: all(i.status == "completed" for i in r.action_items)),
)


def open_deadlines(review: LearningReview) -> dict[str, datetime]:
    """Every deadline of the review that is set, an obligation and not yet met, by name."""
    deadlines = review.after_action.deadlines
    out: dict[str, datetime] = {}
    for name, obliged, met in _DEADLINE_MET:
        due = getattr(deadlines, name)
        if due is not None and obliged(review) and not met(review):
            out[name] = due
    return out


def next_deadline(review: LearningReview) -> datetime | None:
    """The earliest open deadline, or ``None`` when nothing is left to do by a date."""
    left = open_deadlines(review).values()
    return min(left) if left else None


def next_deadline_name(review: LearningReview) -> str | None:
    """Which deadline :func:`next_deadline` is (the first by name when two fall together)."""
    left = open_deadlines(review)
    return min(left, key=lambda name: (left[name], name)) if left else None


def _resolved(review: LearningReview) -> bool:
    return any(entry.type == "incident.resolved" for entry in review.timeline)


def _item_completed(review: LearningReview, item: str | None) -> bool:
    return any(i.item_id == item and i.status == "completed" for i in review.action_items)


_ESCALATION_MET: dict[str, Callable[[LearningReview, str | None], bool]] = {
    # kind → is its obligation met (``item``: the action item id or vendor the escalation names)
    "after_action_not_scheduled": lambda r, _: r.after_action.meeting_at is not None,
    "after_action_not_held": lambda r, _: r.after_action.held_at is not None,
    "after_action_rescheduled_repeatedly": lambda r, _: r.after_action.held_at is not None,
    "draft_not_distributed": lambda r, _: r.after_action.draft_distributed_at is not None,
    "review_not_published": lambda r, _: r.status == ReviewStatus.PUBLISHED,
    "action_items_open_at_review": lambda r, _: all(i.status == "completed" for i in r.action_items),
    "action_item_overdue": _item_completed,
    "vendor_rca_not_committed": lambda r, vendor: any(
        v.vendor == vendor and (v.rca_due is not None or v.rca_received_at is not None) for v in r.vendors
    ),
    "vendor_rca_overdue": lambda r, vendor: any(
        v.vendor == vendor and v.rca_received_at is not None for v in r.vendors
    ),
    "mtm_recommended": lambda r, _: _resolved(r),
}


def _never_met(review: LearningReview, item: str | None) -> bool:
    return False


def escalation_level(review: LearningReview) -> int:
    """The highest level fired for an obligation still open (0: none); a kind this table does not
    know counts as open."""
    open_levels = [
        e.level for e in review.escalations if not _ESCALATION_MET.get(e.kind, _never_met)(review, e.item)
    ]
    return max(open_levels, default=0)


@dataclass(frozen=True, slots=True)
class ReviewListing:
    """One line of ``GET /v1/reviews``: the indexed fields of a stored review."""

    incident_id: str
    title: str | None
    severity: Severity | None
    requirement: Requirement | None
    status: ReviewStatus
    next_deadline: datetime | None
    updated_at: datetime
    next_deadline_name: str | None = None
    """Which deadline ``next_deadline`` is (``schedule_by``, ``draft_due``, …)."""
    escalation_level: int = 0
    """The highest escalation level of an obligation still open; 0: none."""
    escalations_fired: int = 0


def review_listing(review: LearningReview, updated_at: datetime) -> ReviewListing:
    """The review's line in the list, as of ``updated_at`` (when its content last changed)."""
    return ReviewListing(
        incident_id=review.incident_id,
        title=review.summary.title,
        severity=review.summary.severity,
        requirement=review.after_action.requirement,
        status=review.status,
        next_deadline=next_deadline(review),
        updated_at=updated_at,
        next_deadline_name=next_deadline_name(review),
        escalation_level=escalation_level(review),
        escalations_fired=len(review.escalations),
    )


@dataclass(frozen=True, slots=True)
class ActionItemRecord:
    """One action item of one incident, as the cross-incident table keeps it."""

    incident_id: str
    item_id: str
    title: str
    owner: str | None
    due: str | None
    """As recorded: an RFC 3339 time or a plain date."""
    due_at: datetime | None
    """``due`` as an instant (see :func:`due_moment`), for the overdue query."""
    status: ActionItemStatus
    completed_at: datetime | None

    def overdue(self, now: datetime) -> bool:
        """Open and past its due time."""
        return self.status == "open" and self.due_at is not None and self.due_at <= now

    def as_item(self) -> ActionItem:
        """The record as a review's action item."""
        return ActionItem.model_validate(self, from_attributes=True)


def action_item_records(review: LearningReview, timezone: tzinfo = UTC) -> list[ActionItemRecord]:
    """The review's action items as rows of the cross-incident table."""
    return [
        ActionItemRecord(
            incident_id=review.incident_id,
            item_id=item.item_id,
            title=item.title,
            owner=item.owner,
            due=item.due,
            due_at=_due_at(item.due, timezone),
            status=item.status,
            completed_at=item.completed_at,
        )
        for item in review.action_items
    ]


def _due_at(due: str | None, timezone: tzinfo) -> datetime | None:
    if not due:
        return None
    try:
        return due_moment(due, timezone)
    except ValueError:  # validated on the way in; a malformed one is simply never overdue
        return None
