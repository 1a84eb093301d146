"""docs/policy-rules.md shows the rule table and deadline chain exactly as the code applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from majorops.policy.domain.deadlines import DEADLINE_RULES, render_deadline_table_markdown
from majorops.policy.domain.rules import RULES, render_rule_table_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "policy-rules.md"


@pytest.mark.parametrize(
    ("name", "table"),
    [("rule table", render_rule_table_markdown()), ("deadline table", render_deadline_table_markdown())],
)
def test_the_doc_contains_the_table_generated_from_the_code(name: str, table: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert table in text, f"docs/policy-rules.md is out of date; replace its {name} with:\n\n{table}"


def test_the_generated_tables_have_a_row_per_rule_and_deadline() -> None:
    rule_rows = render_rule_table_markdown().splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rule_rows] == [f"`{rule.id}`" for rule in RULES] + ["—"]
    assert rule_rows[-1].endswith("| `not_required` | — |")
    deadline_rows = render_deadline_table_markdown().splitlines()[2:]
    assert [row.split("|")[1].strip() for row in deadline_rows] == [f"`{d.name}`" for d in DEADLINE_RULES]
    assert [d.name for d in DEADLINE_RULES] == [
        "schedule_by",
        "hold_by",
        "draft_due",
        "publish_by",
        "action_review_at",
    ]
