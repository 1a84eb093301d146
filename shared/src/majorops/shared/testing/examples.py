"""The contract's examples (CONTRACT §3–§5) as tests use them: the example incident, its decision,
its escalation, and the members of a Learning Review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from majorops.shared.decisions import AfterActionDecision, Deadlines
from majorops.shared.testing.envelopes import IncidentEvents

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

EXAMPLE_INCIDENT = "INC-1042"
"""The incident of the contract's examples."""
EXAMPLE_CLOSE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
"""When CONTRACT §3's example incident closed: Friday 2026-11-20 12:00 UTC."""


EXAMPLE_ACTION_ITEM: dict[str, Any] = {
    "item_id": "AI-7",
    "title": "Raise pool size",
    "owner": "Sam Lee",
    "due": "2026-12-01",
}
"""The data of the examples' action item (CONTRACT §4 names AI-7): owned, due by the end of a day."""


def mandatory_decision(
    incident: str = EXAMPLE_INCIDENT, revision: int = 1, **fields: Any
) -> AfterActionDecision:
    """A decision as policy publishes it for a critical incident closed at :data:`EXAMPLE_CLOSE`:
    After Action mandatory, to be scheduled a day and held a week (5 business days) after the close;
    ``fields`` replace or add any field."""
    deadlines = Deadlines(
        schedule_by=EXAMPLE_CLOSE + timedelta(days=1), hold_by=EXAMPLE_CLOSE + timedelta(days=7)
    )
    base = {
        "incident_id": incident,
        "revision": revision,
        "requirement": "mandatory",
        "severity": "critical",
        "closed_at": EXAMPLE_CLOSE,
        "deadlines": deadlines,
    }
    return AfterActionDecision.model_validate(base | fields)


def contract_example_events(incident: str = "INC-1042") -> list[dict[str, Any]]:
    """CONTRACT §3's example incident, in the order it happened: alerted 09:00, declared P1 09:14
    with customer impact, resolved 11:15, closed Friday 2026-11-20 12:00."""

    event = IncidentEvents(incident, prefix=incident, source="pagerduty/prod").envelope
    return [
        event("alert.fired", "2026-11-20T09:00:00Z", {"alert_name": "HighLatency"}),
        event(
            "incident.declared",
            "2026-11-20T09:14:00Z",
            {"title": "Checkout latency", "severity": "P1", "customer_impact": True},
        ),
        event("incident.resolved", "2026-11-20T11:15:00Z"),
        event("incident.closed", "2026-11-20T12:00:00Z"),
    ]


def contract_example_published(incident: str = "INC-1042", revision: int = 4) -> dict[str, Any]:
    """The decision policy publishes for :func:`contract_example_events`: CONTRACT §3's example JSON,
    plus what reminders needs beyond it (``declared_at``, ``resolved_at``) and the repeat field."""
    return {
        "incident_id": incident,
        "revision": revision,
        "requirement": "mandatory",
        "reasons": [
            {
                "rule": "critical_any_duration",
                "text": "Critical (P1) incident: After Action mandatory at any duration",
            }
        ],
        "severity": "critical",
        "duration_seconds": 8100,
        "customer_impact": True,
        "repeat_of": [],
        "closed_at": "2026-11-20T12:00:00Z",
        "deadlines": {
            "schedule_by": "2026-11-21T12:00:00Z",
            "hold_by": "2026-11-27T12:00:00Z",
            "draft_due": None,
            "publish_by": None,
            "action_review_at": None,
        },
        "declared_at": "2026-11-20T09:14:00Z",
        "resolved_at": "2026-11-20T11:15:00Z",
        "repeat_open_action_items": [],
    }


def with_deadlines(decision: AfterActionDecision, **deadlines: datetime) -> AfterActionDecision:
    """The decision with these deadlines set as well (the others as they were)."""
    return decision.model_copy(update={"deadlines": decision.deadlines.model_copy(update=deadlines)})


LEARNING_REVIEW_KEYS = (
    "incident_id",
    "status",
    "summary",
    "timeline",
    "metrics",
    "after_action",
    "data_gaps",
    "attendees",
    "vendors",
    "root_cause",
    "went_well",
    "changes",
    "learning_statements",
    "action_items",
    "escalations",
    "lint",
)
"""The members CONTRACT §5 says a Learning Review's JSON has at least, in its order."""


def contract_example_escalation() -> dict[str, Any]:
    """CONTRACT §4's example escalation, as reminders publishes it."""
    return {
        "escalation_id": "INC-1042:after_action_not_scheduled:1",
        "incident_id": "INC-1042",
        "kind": "after_action_not_scheduled",
        "level": 1,
        "due_at": "2026-11-21T12:00:00Z",
        "fired_at": "2026-11-21T12:00:03Z",
        "notify": {"role": "mim", "person": "Dana Reyes"},
        "message": "After Action for INC-1042 not scheduled within 24 h of close",
    }


def contract_decision(incident: str, revision: int, requirement: str = "mandatory") -> dict[str, Any]:
    """A decision as CONTRACT §3 shows it (no extension fields), at any revision and requirement."""
    decision = contract_example_published(incident, revision)
    for extension in ("declared_at", "resolved_at", "repeat_open_action_items"):
        del decision[extension]
    return decision | {"requirement": requirement}
