"""The After Action requirement rules of CONTRACT §3, as one table of data.

Every rule that applies is a reason; the requirement is the strongest of them, ``not_required``
when none applies. The table is the single source of the rules: the evaluation, the published
reason texts and the Markdown table of ``docs/policy-rules.md`` (see
:func:`render_rule_table_markdown`) all read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from majorops.policy.domain.facts import IncidentFacts
from majorops.shared.decisions import Reason, Requirement
from majorops.shared.events import Severity

HIGH_LONG_DURATION = timedelta(hours=2)
"""High incidents lasting strictly longer than this need an After Action."""

REQUIREMENT_STRENGTH: Mapping[Requirement, int] = {
    Requirement.NOT_REQUIRED: 0,
    Requirement.OPTIONAL: 1,
    Requirement.RECOMMENDED: 2,
    Requirement.MANDATORY: 3,
}


@dataclass(frozen=True, slots=True)
class RuleInput:
    """What the rules read: the incident's facts and the earlier incidents it repeats."""

    facts: IncidentFacts
    repeat_of: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the rule table."""

    id: str
    requirement: Requirement
    condition: str
    """When the rule applies, in words (Markdown), as the docs show it."""
    text: str
    """The reason published in the decision."""
    applies: Callable[[RuleInput], bool]

    def reason(self) -> Reason:
        """The reason this rule contributes to a decision."""
        return Reason(rule=self.id, text=self.text)


def _is_high_with_known_duration(given: RuleInput) -> bool:
    # A high incident still open has no final duration yet, so no high rule can be decided;
    # the decision changes when it resolves or closes.
    return given.facts.severity == Severity.HIGH and given.facts.duration is not None


def _is_high_over_2h(given: RuleInput) -> bool:
    duration = given.facts.duration
    return _is_high_with_known_duration(given) and duration is not None and duration > HIGH_LONG_DURATION


def _is_high_short(given: RuleInput) -> bool:
    duration = given.facts.duration
    return _is_high_with_known_duration(given) and duration is not None and duration <= HIGH_LONG_DURATION


RULES: tuple[Rule, ...] = (
    Rule(
        id="repeat_incident",
        requirement=Requirement.MANDATORY,
        condition=(
            "repeat, any severity: the root cause's fingerprint equals that of another incident "
            "whose root cause was identified earlier (by event `time`)"
        ),
        text="Repeat incident: same root cause as an earlier incident, so a prior learning was not "
        "implemented; After Action mandatory regardless of severity",
        applies=lambda given: given.facts.root_cause is not None and bool(given.repeat_of),
    ),
    Rule(
        id="critical_any_duration",
        requirement=Requirement.MANDATORY,
        condition="severity critical (any duration, also while open)",
        text="Critical (P1) incident: After Action mandatory at any duration",
        applies=lambda given: given.facts.severity == Severity.CRITICAL,
    ),
    Rule(
        id="high_over_2h",
        requirement=Requirement.MANDATORY,
        condition="severity high, resolved or closed, and duration > 2 h (strictly)",
        text="High (P2) incident lasting more than 2 hours: After Action mandatory",
        applies=_is_high_over_2h,
    ),
    Rule(
        id="high_short_customer_impact",
        requirement=Requirement.RECOMMENDED,
        condition="severity high, resolved or closed, duration ≤ 2 h, customer impact",
        text="High (P2) incident of 2 hours or less with customer impact: After Action recommended",
        applies=lambda given: _is_high_short(given) and given.facts.customer_impact,
    ),
    Rule(
        id="high_short_internal",
        requirement=Requirement.OPTIONAL,
        condition="severity high, resolved or closed, duration ≤ 2 h, no customer impact",
        text="High (P2) incident of 2 hours or less, internal only: After Action optional",
        applies=lambda given: _is_high_short(given) and not given.facts.customer_impact,
    ),
    Rule(
        id="medium_unusual_factors",
        requirement=Requirement.OPTIONAL,
        condition="severity medium and the root cause marked `unusual`",
        text="Medium (P3) incident with unusual contributing factors: After Action optional",
        applies=lambda given: (
            given.facts.severity == Severity.MEDIUM
            and given.facts.root_cause is not None
            and given.facts.root_cause.unusual
        ),
    ),
)

NOTHING_APPLIES_CONDITION = "nothing applies (including a high incident not yet resolved or closed)"


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """The requirement and every reason for it, strongest first."""

    requirement: Requirement
    reasons: tuple[Reason, ...]


def evaluate_rules(facts: IncidentFacts, repeat_of: tuple[str, ...] = ()) -> RuleOutcome:
    """Evaluate every rule; the requirement is the strongest that applies, else ``not_required``.

    Reasons list every applicable rule, strongest first, in table order among equals.
    """
    given = RuleInput(facts=facts, repeat_of=repeat_of)
    applicable = sorted(
        (rule for rule in RULES if rule.applies(given)),
        key=lambda rule: -REQUIREMENT_STRENGTH[rule.requirement],
    )
    requirement = applicable[0].requirement if applicable else Requirement.NOT_REQUIRED
    return RuleOutcome(requirement=requirement, reasons=tuple(rule.reason() for rule in applicable))


def render_rule_table_markdown() -> str:
    """The rule table as Markdown, strongest first, ending with the ``not_required`` row."""
    ordered = sorted(RULES, key=lambda rule: -REQUIREMENT_STRENGTH[rule.requirement])
    lines = [
        "| rule | condition | requirement | reason published |",
        "|---|---|---|---|",
        *(
            f"| `{rule.id}` | {rule.condition} | `{rule.requirement.value}` | {rule.text} |"
            for rule in ordered
        ),
        f"| — | {NOTHING_APPLIES_CONDITION} | `{Requirement.NOT_REQUIRED.value}` | — |",
    ]
    return "\n".join(lines) + "\n"
