"""The list's line of a review: which deadline is next, and the escalation level a person is at —
the highest level fired for an obligation the record does not show met yet (what the MIM's board
shows for every incident from one ``GET /v1/reviews``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from majorops.reports.domain.action_items import ActionItem
from majorops.reports.domain.document import AfterActionSection, EscalationEntry, LearningReview
from majorops.reports.domain.listing import escalation_level, next_deadline_name, review_listing
from majorops.reports.domain.timeline import ReviewStatus
from majorops.reports.domain.vendors import VendorRecord
from majorops.shared.decisions import Deadlines, Requirement
from majorops.shared.escalations import Notify

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def fired(kind: str, level: int, item: str | None = None) -> EscalationEntry:
    return EscalationEntry(
        escalation_id=f"INC-1:{kind}:{item or ''}:{level}",
        kind=kind,
        level=level,
        due_at=T0,
        fired_at=T0,
        item=item,
        notify=Notify(role="incident_manager"),
        message="…",
    )


def review(**fields: Any) -> LearningReview:
    after_action = AfterActionSection(
        requirement=Requirement.MANDATORY,
        deadlines=Deadlines(schedule_by=T0 + timedelta(days=1), hold_by=T0 + timedelta(days=7)),
        **fields.pop("after_action", {}),
    )
    return LearningReview(incident_id="INC-1", after_action=after_action, **fields)


def test_the_level_is_the_highest_of_an_obligation_still_open() -> None:
    both = [fired("after_action_not_scheduled", 1), fired("after_action_not_scheduled", 2)]
    assert escalation_level(review(escalations=both)) == 2
    # Scheduled since: nothing open, though two levels fired.
    met = review(escalations=both, after_action={"meeting_at": T0 + timedelta(days=3)})
    assert escalation_level(met) == 0
    assert review_listing(met, T0).escalations_fired == 2
    # A level 3 of a met obligation does not hide the level 1 of an open one.
    mixed = [fired("after_action_not_scheduled", 3), fired("after_action_not_held", 1)]
    assert escalation_level(review(escalations=mixed, after_action={"meeting_at": T0})) == 1
    assert escalation_level(review()) == 0


def test_items_and_vendors_are_met_one_by_one_and_an_unknown_kind_stays_open() -> None:
    items = [
        ActionItem(item_id="AI-1", title="Fix", status="completed", completed_at=T0),
        ActionItem(item_id="AI-2", title="Test"),
    ]
    escalations = [fired("action_item_overdue", 2, "AI-1"), fired("action_item_overdue", 1, "AI-2")]
    assert escalation_level(review(action_items=items, escalations=escalations)) == 1
    vendors = [VendorRecord(vendor="NetCore", rca_due=T0), VendorRecord(vendor="CloudCo")]
    rca = [fired("vendor_rca_not_committed", 3, "NetCore"), fired("vendor_rca_not_committed", 2, "CloudCo")]
    assert escalation_level(review(vendors=vendors, escalations=rca)) == 2
    published = review(status=ReviewStatus.PUBLISHED, escalations=[fired("review_not_published", 3)])
    assert escalation_level(published) == 0
    assert escalation_level(review(escalations=[fired("a_kind_from_a_newer_reminders", 2)])) == 2


def test_the_next_deadline_is_named() -> None:
    assert next_deadline_name(review()) == "schedule_by"
    scheduled = review(after_action={"meeting_at": T0 + timedelta(days=3)})
    assert next_deadline_name(scheduled) == "hold_by"
    assert review_listing(scheduled, T0).next_deadline_name == "hold_by"
    held = review(after_action={"meeting_at": T0, "held_at": T0})
    assert next_deadline_name(held) is None
