"""The After Action decision of one incident, derived from its facts (CONTRACT §3).

:class:`DecisionContent` is the decision without its ``revision``: the service publishes a new
revision exactly when the content changes, so content equality is what "changed" means. It also
carries ``declared_at`` and ``resolved_at`` (so reminders never re-derives the rules) and, for a
repeat incident, the earlier incidents' action items still open — the learning that was not
implemented, which is why a repeat needs an After Action at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.deadlines import compute_deadlines
from majorops.policy.domain.facts import IncidentFacts, OpenActionItem
from majorops.policy.domain.rules import evaluate_rules
from majorops.shared.decisions import AfterActionDecision, Deadlines, Reason, Requirement, UtcTime
from majorops.shared.decisions import EarlierOpenActionItem as SharedEarlierOpenActionItem
from majorops.shared.events import Severity


class EarlierOpenActionItem(SharedEarlierOpenActionItem):
    """An action item of an earlier incident with the same root cause, still open (as published)."""

    @classmethod
    def of(cls, incident_id: str, item: OpenActionItem) -> EarlierOpenActionItem:
        """The item as listed in a later incident's decision."""
        return cls(
            incident_id=incident_id, item_id=item.item_id, title=item.title, owner=item.owner, due=item.due
        )


def open_items_of(facts: IncidentFacts) -> tuple[EarlierOpenActionItem, ...]:
    """An incident's open action items, as a later repeat of it would list them."""
    return tuple(EarlierOpenActionItem.of(facts.incident_id, item) for item in facts.open_action_items)


class DecisionContent(BaseModel):
    """Everything of :class:`AfterActionDecision` except ``revision``; equal content, no new revision."""

    model_config = ConfigDict(frozen=True)

    incident_id: str
    requirement: Requirement
    reasons: list[Reason] = Field(default_factory=list)
    severity: Severity | None = None
    duration_seconds: int | None = None
    customer_impact: bool = False
    repeat_of: list[str] = Field(default_factory=list)
    closed_at: UtcTime | None = None
    deadlines: Deadlines = Field(default_factory=Deadlines)
    declared_at: UtcTime | None = None
    resolved_at: UtcTime | None = None
    repeat_open_action_items: list[EarlierOpenActionItem] = Field(default_factory=list)
    """For a repeat: the earlier incidents' action items still open, sorted by incident and item."""

    def with_revision(self, revision: int) -> AfterActionDecision:
        """The decision as published, at that revision."""
        return AfterActionDecision.model_validate({**self.model_dump(), "revision": revision})

    @classmethod
    def of_decision(cls, decision: AfterActionDecision) -> DecisionContent:
        """The content of a published decision (e.g. the last one stored), to compare with a new one."""
        return cls.model_validate(decision.model_dump(exclude={"revision"}))


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
