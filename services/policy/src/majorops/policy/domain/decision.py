"""The After Action decision of one incident, derived from its facts (CONTRACT §3).

The decision's shape is the contract's (:mod:`majorops.shared.decisions`): policy derives a
:class:`~majorops.shared.decisions.DecisionContent` (the decision without its ``revision``) and
publishes a new revision exactly when the content changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.deadlines import compute_deadlines
from majorops.policy.domain.facts import IncidentFacts
from majorops.policy.domain.rules import evaluate_rules
from majorops.shared.decisions import DecisionContent, EarlierOpenActionItem

__all__ = ["derive_decision", "open_items_of"]


def open_items_of(facts: IncidentFacts) -> tuple[EarlierOpenActionItem, ...]:
    """An incident's open action items, as a later repeat of it would list them."""
    return tuple(
        EarlierOpenActionItem(incident_id=facts.incident_id, **asdict(item))
        for item in facts.open_action_items
    )


def derive_decision(
    facts: IncidentFacts,
    repeat_of: Sequence[str],
    calendar: BusinessCalendar,
    repeat_open_action_items: Iterable[EarlierOpenActionItem] = (),
) -> DecisionContent:
    """Decide the incident's After Action requirement, reasons and deadlines.

    ``repeat_of`` lists earlier incidents with the same root-cause fingerprint (see
    :func:`~majorops.policy.domain.repeats.find_repeat_of`); it is ignored while the incident
    has no root cause of its own. ``repeat_open_action_items`` may hold open items of any
    incidents; only those of incidents in ``repeat_of`` are listed.
    """
    repeats = tuple(sorted(set(repeat_of) - {facts.incident_id})) if facts.root_cause is not None else ()
    outcome = evaluate_rules(facts, repeats)
    earlier_items = sorted(
        {item for item in repeat_open_action_items if item.incident_id in repeats},
        key=lambda item: (item.incident_id, item.item_id, item.title, item.owner or "", item.due or ""),
    )
    return DecisionContent(
        incident_id=facts.incident_id,
        requirement=outcome.requirement,
        reasons=list(outcome.reasons),
        severity=facts.severity,
        duration_seconds=facts.duration_seconds,
        customer_impact=facts.customer_impact,
        repeat_of=list(repeats),
        closed_at=facts.closed_at,
        deadlines=compute_deadlines(facts, calendar),
        declared_at=facts.declared_at,
        resolved_at=facts.resolved_at,
        repeat_open_action_items=earlier_items,
    )
