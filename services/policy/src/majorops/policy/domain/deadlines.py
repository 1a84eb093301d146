"""The five After Action deadlines of CONTRACT §3, each hanging on one event of the incident.

Each deadline is ``None`` until the event it hangs on exists. They are chained the way the
process is (close → schedule → draft → hold → publish → review action items), but each is measured
from its own anchor, so a late meeting moves the draft deadline, not the hold deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.facts import IncidentFacts
from majorops.shared.decisions import ACTION_ITEM_REVIEW_AFTER_PUBLICATION, Deadlines
from majorops.shared.events import Severity

SCHEDULE_WITHIN = timedelta(hours=24)
DRAFT_BEFORE_MEETING = timedelta(hours=48)
PUBLISH_WITHIN = timedelta(hours=48)
ACTION_REVIEW_AFTER = ACTION_ITEM_REVIEW_AFTER_PUBLICATION
"""The action-item review, 30 days after publication (``action_review_at``)."""
HOLD_WITHIN_BUSINESS_DAYS_CRITICAL = 5
HOLD_WITHIN_BUSINESS_DAYS_OTHER = 10


def hold_within_business_days(severity: Severity | None) -> int:
    """5 business days for a critical incident, 10 for any other."""
    return (
        HOLD_WITHIN_BUSINESS_DAYS_CRITICAL
        if severity == Severity.CRITICAL
        else HOLD_WITHIN_BUSINESS_DAYS_OTHER
    )


def _schedule_by(facts: IncidentFacts, calendar: BusinessCalendar) -> datetime | None:
    return None if facts.closed_at is None else facts.closed_at + SCHEDULE_WITHIN


def _hold_by(facts: IncidentFacts, calendar: BusinessCalendar) -> datetime | None:
    if facts.closed_at is None:
        return None
    return calendar.add_business_days(facts.closed_at, hold_within_business_days(facts.severity))


def _draft_due(facts: IncidentFacts, calendar: BusinessCalendar) -> datetime | None:
    return None if facts.meeting_at is None else facts.meeting_at - DRAFT_BEFORE_MEETING


def _publish_by(facts: IncidentFacts, calendar: BusinessCalendar) -> datetime | None:
    held = facts.after_action_held_at
    return None if held is None else held + PUBLISH_WITHIN


def _action_review_at(facts: IncidentFacts, calendar: BusinessCalendar) -> datetime | None:
    # The action-item review, 30 days after publication. 30 × 24 h: "calendar days" only says
    # weekends and holidays count, so no calendar is needed.
    published = facts.review_published_at
    return None if published is None else published + ACTION_REVIEW_AFTER


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """One deadline: its name in the decision, what it hangs on, and how it is computed."""

    name: str
    anchor: str
    """The event it hangs on, in words (Markdown)."""
    offset: str
    """How far from the anchor, in words (Markdown)."""
    compute: Callable[[IncidentFacts, BusinessCalendar], datetime | None]


DEADLINE_RULES: tuple[DeadlineRule, ...] = (
    DeadlineRule(
        "schedule_by",
        "`closed_at` (earliest `incident.closed`)",
        "+ 24 h",
        _schedule_by,
    ),
    DeadlineRule(
        "hold_by",
        "`closed_at` (earliest `incident.closed`)",
        f"+ {HOLD_WITHIN_BUSINESS_DAYS_CRITICAL} business days if severity is critical, "
        f"else + {HOLD_WITHIN_BUSINESS_DAYS_OTHER} business days (at the close's local time of day)",
        _hold_by,
    ),
    DeadlineRule(
        "draft_due",
        "`meeting_at` of the latest `afteraction.scheduled`/`afteraction.rescheduled` (by event `time`)",
        "− 48 h",
        _draft_due,
    ),
    DeadlineRule(
        "publish_by",
        "time of the earliest `afteraction.held`",
        "+ 48 h",
        _publish_by,
    ),
    DeadlineRule(
        "action_review_at",
        "time of the earliest `review.published`",
        "+ 30 calendar days (30 × 24 h)",
        _action_review_at,
    ),
)


def compute_deadlines(facts: IncidentFacts, calendar: BusinessCalendar) -> Deadlines:
    """All five deadlines; each ``None`` until the event it hangs on exists."""
    return Deadlines(**{rule.name: rule.compute(facts, calendar) for rule in DEADLINE_RULES})


def render_deadline_table_markdown() -> str:
    """The deadline chain as Markdown, in process order."""
    lines = [
        "| deadline | anchor | due |",
        "|---|---|---|",
        *(f"| `{rule.name}` | {rule.anchor} | {rule.offset} |" for rule in DEADLINE_RULES),
    ]
    return "\n".join(lines) + "\n"
