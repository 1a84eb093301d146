"""Every row and boundary of the After Action rule table (CONTRACT §3), as a decision shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.decision import derive_decision
from majorops.policy.domain.facts import fold_facts
from majorops.policy.domain.rules import RULES, evaluate_rules
from majorops.shared.decisions import Requirement
from majorops.shared.events import CloudEvent
from majorops.shared.testing import IncidentEvents

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


event = IncidentEvents("INC-1", source="pagerduty/prod")


@dataclass(frozen=True)
class Case:
    """An incident declared at T0 with this severity, ended after ``lasted`` (``None``: still open)."""

    name: str
    severity: str
    lasted: timedelta | None
    expected: Requirement
    rules: list[str]
    customer_impact: bool = False
    unusual: bool | None = None
    repeat_of: list[str] = field(default_factory=list)
    later_severity: str | None = None
    end: str = "incident.resolved"

    def events(self) -> list[CloudEvent]:
        declared: dict[str, Any] = {"title": "Checkout latency", "severity": self.severity}
        if self.customer_impact:
            declared["customer_impact"] = True
        out = [event("incident.declared", T0, declared)]
        if self.later_severity is not None:
            out.append(
                event("incident.updated", T0 + timedelta(minutes=5), {"severity": self.later_severity})
            )
        if self.unusual is not None or self.repeat_of:
            root_cause: dict[str, Any] = {"fingerprint": "db-pool-exhaustion"}
            if self.unusual is not None:
                root_cause["unusual"] = self.unusual
            out.append(event("rootcause.identified", T0 + timedelta(minutes=30), root_cause))
        if self.lasted is not None:
            out.append(event(self.end, T0 + self.lasted))
        return out


TWO_HOURS = timedelta(hours=2)
SECOND = timedelta(seconds=1)

CASES = [
    Case("critical, open", "critical", None, Requirement.MANDATORY, ["critical_any_duration"]),
    Case(
        "critical, 5 min", "critical", timedelta(minutes=5), Requirement.MANDATORY, ["critical_any_duration"]
    ),
    Case("P1 alias", "P1", timedelta(minutes=5), Requirement.MANDATORY, ["critical_any_duration"]),
    Case(
        "downgraded after critical stays critical",
        "critical",
        timedelta(minutes=20),
        Requirement.MANDATORY,
        ["critical_any_duration"],
        later_severity="P4",
    ),
    Case("high, 2 h + 1 s", "high", TWO_HOURS + SECOND, Requirement.MANDATORY, ["high_over_2h"]),
    Case("P2 alias, 2 h + 1 s", "p2", TWO_HOURS + SECOND, Requirement.MANDATORY, ["high_over_2h"]),
    Case(
        "high, 2 h + 1 ms",
        "high",
        TWO_HOURS + timedelta(milliseconds=1),
        Requirement.MANDATORY,
        ["high_over_2h"],
    ),
    Case(
        "high, 2 h + 1 s, closed without resolution",
        "high",
        TWO_HOURS + SECOND,
        Requirement.MANDATORY,
        ["high_over_2h"],
        end="incident.closed",
    ),
    Case(
        "high over 2 h with customer impact is still just mandatory",
        "high",
        timedelta(hours=5),
        Requirement.MANDATORY,
        ["high_over_2h"],
        customer_impact=True,
    ),
    Case(
        "P2 at exactly 2 h with customer impact",
        "P2",
        TWO_HOURS,
        Requirement.RECOMMENDED,
        ["high_short_customer_impact"],
        customer_impact=True,
    ),
    Case(
        "high, 10 min, customer impact",
        "high",
        timedelta(minutes=10),
        Requirement.RECOMMENDED,
        ["high_short_customer_impact"],
        customer_impact=True,
    ),
    Case("P2 at exactly 2 h, internal", "P2", TWO_HOURS, Requirement.OPTIONAL, ["high_short_internal"]),
    Case(
        "high, 2 h − 1 s, internal", "high", TWO_HOURS - SECOND, Requirement.OPTIONAL, ["high_short_internal"]
    ),
    Case(
        "high, closed after 1 h",
        "high",
        timedelta(hours=1),
        Requirement.OPTIONAL,
        ["high_short_internal"],
        end="incident.closed",
    ),
    Case("high, open", "high", None, Requirement.NOT_REQUIRED, []),
    Case("high, open, customer impact", "high", None, Requirement.NOT_REQUIRED, [], customer_impact=True),
    Case(
        "upgraded from medium to P2",
        "medium",
        TWO_HOURS + SECOND,
        Requirement.MANDATORY,
        ["high_over_2h"],
        later_severity="P2",
    ),
    Case(
        "medium, unusual",
        "medium",
        timedelta(hours=1),
        Requirement.OPTIONAL,
        ["medium_unusual_factors"],
        unusual=True,
    ),
    Case("P3, unusual, open", "P3", None, Requirement.OPTIONAL, ["medium_unusual_factors"], unusual=True),
    Case(
        "medium, usual root cause", "medium", timedelta(hours=9), Requirement.NOT_REQUIRED, [], unusual=False
    ),
    Case("medium, no root cause", "medium", timedelta(hours=9), Requirement.NOT_REQUIRED, []),
    Case("low, unusual", "low", timedelta(hours=9), Requirement.NOT_REQUIRED, [], unusual=True),
    Case("P4, long", "P4", timedelta(days=2), Requirement.NOT_REQUIRED, []),
    Case(
        "repeat, low",
        "low",
        timedelta(minutes=3),
        Requirement.MANDATORY,
        ["repeat_incident"],
        repeat_of=["INC-0"],
    ),
    Case(
        "repeat, open high",
        "high",
        None,
        Requirement.MANDATORY,
        ["repeat_incident"],
        repeat_of=["INC-0"],
    ),
    Case(
        "repeat and critical: every reason, repeat first",
        "critical",
        timedelta(minutes=3),
        Requirement.MANDATORY,
        ["repeat_incident", "critical_any_duration"],
        repeat_of=["INC-0"],
    ),
    Case(
        "repeat of a short high: mandatory, the weaker reason listed after",
        "high",
        timedelta(minutes=30),
        Requirement.MANDATORY,
        ["repeat_incident", "high_short_internal"],
        repeat_of=["INC-0"],
    ),
    Case(
        "repeat of an unusual medium",
        "medium",
        timedelta(minutes=30),
        Requirement.MANDATORY,
        ["repeat_incident", "medium_unusual_factors"],
        unusual=True,
        repeat_of=["INC-0"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_rule_table(case: Case) -> None:
    decision = derive_decision(fold_facts(case.events()), case.repeat_of, BusinessCalendar())
    assert decision.requirement == case.expected
    assert [reason.rule for reason in decision.reasons] == case.rules
    assert decision.repeat_of == case.repeat_of


def test_published_reasons_carry_the_rule_text() -> None:
    decision = derive_decision(fold_facts(CASES[0].events()), [], BusinessCalendar())
    [reason] = decision.reasons
    assert reason.text == "Critical (P1) incident: After Action mandatory at any duration"


def test_boundary_two_hours_is_measured_from_the_first_alert_not_the_declaration() -> None:
    events = [
        event("alert.fired", T0 - timedelta(minutes=10), {"alert_name": "HighLatency"}),
        event("incident.declared", T0, {"title": "Checkout latency", "severity": "P2"}),
        event("incident.resolved", T0 + TWO_HOURS - timedelta(minutes=5)),
    ]
    decision = derive_decision(fold_facts(events), [], BusinessCalendar())
    assert decision.duration_seconds == 7500
    assert [reason.rule for reason in decision.reasons] == ["high_over_2h"]


def test_customer_impact_from_an_alert_makes_a_short_high_recommended() -> None:
    events = [
        event("alert.fired", T0, {"alert_name": "CheckoutErrors", "customer_count": 120}),
        event("incident.declared", T0, {"title": "Checkout errors", "severity": "high"}),
        event("incident.resolved", T0 + timedelta(minutes=40)),
    ]
    decision = derive_decision(fold_facts(events), [], BusinessCalendar())
    assert decision.customer_impact is True
    assert decision.requirement == Requirement.RECOMMENDED


def test_a_repeat_without_a_root_cause_of_its_own_is_not_a_repeat() -> None:
    events = [event("incident.declared", T0, {"title": "x", "severity": "low"})]
    decision = derive_decision(fold_facts(events), ["INC-0"], BusinessCalendar())
    assert decision.repeat_of == []
    assert decision.requirement == Requirement.NOT_REQUIRED


def test_reasons_are_ordered_strongest_first_whatever_the_table_order() -> None:
    strengths = {Requirement.MANDATORY: 3, Requirement.RECOMMENDED: 2, Requirement.OPTIONAL: 1}
    for case in CASES:
        outcome = evaluate_rules(fold_facts(case.events()), tuple(case.repeat_of))
        by_id = {rule.id: rule for rule in RULES}
        ranks = [strengths[by_id[reason.rule].requirement] for reason in outcome.reasons]
        assert ranks == sorted(ranks, reverse=True)


def test_rule_ids_are_unique_and_every_rule_has_a_row_in_this_table() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    covered = {rule for case in CASES for rule in case.rules}
    assert covered == set(ids)
