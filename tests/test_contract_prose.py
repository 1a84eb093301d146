"""The prose contract (docs/CONTRACT.md) and the code name the same things.

The generated AsyncAPI/OpenAPI documents are checked in test_contract_docs.py; this checks the
tables and lists of the prose copy against the one place in the code where each lives.
"""

from __future__ import annotations

import re
from pathlib import Path

from majorops.policy.domain.rules import RULES
from majorops.reports.domain.data_gaps import DataGap
from majorops.reports.domain.lint_findings import LintCode
from majorops.shared.escalations import ObligationKind
from majorops.shared.events import EVENT_DATA_MODELS, Severity
from majorops.shared.subjects import INGEST_REQUEST

CONTRACT = (Path(__file__).resolve().parents[1] / "docs" / "CONTRACT.md").read_text()


def section(title: str) -> str:
    start = CONTRACT.index(title)
    end = CONTRACT.find("\n## ", start + 1)
    return CONTRACT[start : end if end != -1 else None]


def first_column(table_text: str) -> list[str]:
    """The backticked names in the first column of every Markdown table row."""
    return re.findall(r"^\| `([^`]+)` \|", table_text, flags=re.M)


def test_every_event_type_of_the_contract_is_in_the_code_and_no_other() -> None:
    assert set(first_column(section("### Event types"))) == set(EVENT_DATA_MODELS)


def test_severities_and_the_ingest_subject() -> None:
    assert all(f"`{s.value}`" in section("## 1. Event envelope") for s in Severity)
    assert f"`{INGEST_REQUEST}`" in section("## 2. Ingest service")


def test_the_rule_table_names_the_rules_of_the_code_in_the_same_order() -> None:
    assert first_column(section("## 3. Policy service")) == [rule.id for rule in RULES]


def test_the_obligation_table_names_every_kind() -> None:
    assert first_column(section("## 4. Reminders service")) == [kind.value for kind in ObligationKind]


def test_data_gaps_are_listed_in_the_contract_order() -> None:
    text = section("## 5. Reports service")
    gaps_paragraph = text[text.index("- `data_gaps`") : text.index("Listed in this order.")]
    assert re.findall(r"`(no_[a-z_]+|vendor_sla_unknown)`", gaps_paragraph) == [g.value for g in DataGap]


def test_every_lint_code_of_the_contract_exists() -> None:
    text = section("## 5. Reports service")
    lint_paragraph = text[text.index("- `lint` codes") :]
    named = set(re.findall(r"`([a-z_]+)` \((?:error|warning)", lint_paragraph))
    assert named, "no lint code found in the contract"
    assert named <= {code.value for code in LintCode}
