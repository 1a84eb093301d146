"""Policy's pure domain: incident facts, the After Action rules, business days and deadlines.

No I/O here: the handlers read stored events with :class:`FactsAccumulator` (the shared read model
of :mod:`majorops.shared.incident` underneath), look repeats up in
their fingerprint index with :func:`find_repeat_of`, and call :func:`derive_decision`.
"""

from __future__ import annotations

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.deadlines import DEADLINE_RULES, compute_deadlines, render_deadline_table_markdown
from majorops.policy.domain.decision import (
    DecisionContent,
    EarlierOpenActionItem,
    derive_decision,
    open_items_of,
)
from majorops.policy.domain.facts import (
    FactsAccumulator,
    IncidentFacts,
    OpenActionItem,
    RootCause,
    fold_facts,
)
from majorops.policy.domain.repeats import (
    RootCauseSighting,
    find_repeat_of,
    incidents_to_reevaluate,
    later_repeats_of,
)
from majorops.policy.domain.rules import RULES, Rule, evaluate_rules, render_rule_table_markdown

__all__ = [
    "DEADLINE_RULES",
    "RULES",
    "BusinessCalendar",
    "DecisionContent",
    "EarlierOpenActionItem",
    "FactsAccumulator",
    "IncidentFacts",
    "OpenActionItem",
    "RootCause",
    "RootCauseSighting",
    "Rule",
    "compute_deadlines",
    "derive_decision",
    "evaluate_rules",
    "find_repeat_of",
    "fold_facts",
    "incidents_to_reevaluate",
    "later_repeats_of",
    "open_items_of",
    "render_deadline_table_markdown",
    "render_rule_table_markdown",
]
