"""The Learning Review rendered as Markdown and as a standalone HTML page, hostile text included."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from majorops.reports.domain.document import Change, LearningReview, Narrative
from majorops.reports.domain.learning_review import assemble_learning_review
from majorops.reports.domain.render_html import render_html
from majorops.reports.domain.render_markdown import escape_block, escape_inline, render_markdown
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.events import CloudEvent
from majorops.shared.testing import IncidentEvents, contract_example_escalation

HOSTILE = "<script>alert(1)</script>"


event = IncidentEvents("INC-1042", content_ids=True)


def incident(title: str = "Checkout latency", text: str = "Failover started") -> list[CloudEvent]:
    return [
        event("alert.fired", 0, {"alert_name": "CheckoutLatency", "customer_count": 1200}),
        event("incident.confirmed", 7),
        event("incident.declared", 12, {"title": title, "severity": "critical", "affected_users": 1200}),
        event("role.assigned", 13, {"role": "mim", "person": "Dana Reyes"}),
        event("track.opened", 16, {"track": "database", "lead": "Lee Wong"}),
        event("timeline.logged", 30, {"text": text, "by": "Lee Wong"}),
        event("incident.mitigated", 72),
        event("vendor.engaged", 25, {"vendor": "Acme Cloud", "response_sla_minutes": 30}),
        event("vendor.responded", 70, {"vendor": "Acme Cloud"}),
        event(
            "vendor.rca_received", 900, {"vendor": "Acme Cloud", "url": "https://acme.example/rca?id=1&x=2"}
        ),
        event("incident.resolved", 132),
        event(
            "actionitem.created",
            300,
            {"item_id": "AI-7", "title": "Update runbook step 4", "owner": "Dana Reyes", "due": "2026-12-01"},
        ),
    ]


def decision() -> AfterActionDecision:
    return AfterActionDecision.model_validate(
        {
            "incident_id": "INC-1042",
            "revision": 2,
            "requirement": "mandatory",
            "reasons": [
                {"rule": "critical_any_duration", "text": "Critical (P1) incident: After Action mandatory"}
            ],
            "closed_at": "2026-11-20T12:00:00Z",
            "deadlines": {"schedule_by": "2026-11-21T12:00:00Z", "hold_by": "2026-11-27T12:00:00Z"},
        }
    )


def escalation(message: str = "After Action for INC-1042 not scheduled within 24 h of close") -> Escalation:
    return Escalation.model_validate(contract_example_escalation() | {"message": message})


def learning_review(
    events: list[CloudEvent] | None = None, narrative: Narrative | None = None
) -> LearningReview:
    narrative = narrative or Narrative(
        root_cause="The incident was caused by connection pool exhaustion.",
        contributing_factors=["Pool size not re-tuned after the migration"],
        went_well=["Failover runbook worked first time"],
        changes=[Change(text="Add pool saturation alert", owner="SRE lead", due="2026-12-01")],
        learning_statements=[
            "Runbook step 4 lacked the unreachable-primary case. SRE lead updating by 2026-12-01."
        ],
    )
    return assemble_learning_review(events or incident(), decision(), [escalation()], narrative)


def hostile_review() -> LearningReview:
    """Hostile text in every place a person or a system can write."""
    events = [
        event("incident.declared", 12, {"title": f"{HOSTILE} | # x", "severity": "critical"}),
        event("role.assigned", 13, {"role": "mim", "person": f"{HOSTILE}Eve"}),
        event(
            "timeline.logged",
            30,
            {"text": f"line1\n# not a heading | {HOSTILE}", "by": "<img src=x onerror=alert(2)>"},
        ),
        event("track.opened", 16, {"track": f"{HOSTILE}track"}),
        event("vendor.engaged", 25, {"vendor": f"{HOSTILE}Vendor"}),
        event(
            "vendor.rca_received",
            900,
            {"vendor": f"{HOSTILE}Vendor", "url": 'https://x.example/"onmouseover="alert(3)'},
        ),
        event("vendor.engaged", 26, {"vendor": "Sneaky"}),
        event("vendor.rca_received", 901, {"vendor": "Sneaky", "url": "javascript:alert(4)"}),
        event(
            "actionitem.created", 300, {"item_id": "AI-1", "title": f"{HOSTILE} | fix", "owner": f"{HOSTILE}"}
        ),
        event("rootcause.identified", 40, {"fingerprint": f"{HOSTILE}fp", "vendor_related": True}),
    ]
    narrative = Narrative(
        root_cause=f"{HOSTILE}\n\n# Heading\n    indented code\n- list",
        contributing_factors=[f"{HOSTILE} factor"],
        went_well=[f"{HOSTILE} went well"],
        changes=[Change(text=f"{HOSTILE} change | x", owner=f"{HOSTILE}")],
        learning_statements=[f"{HOSTILE} statement"],
    )
    return assemble_learning_review(events, None, [escalation(f"{HOSTILE} escalated")], narrative)


# --- Markdown ---------------------------------------------------------------------------------


def headings(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("#")]


def test_markdown_follows_the_seed_template() -> None:
    markdown = render_markdown(learning_review())
    numbered = [h for h in headings(markdown) if re.match(r"## \d\.", h)]
    assert numbered == [
        "## 1. Incident Summary",
        "## 2. Timeline",
        "## 3. Root Cause",
        "## 4. What Went Well",
        "## 5. What We Are Changing",
        "## 6. Learning Statements",
        "## 7. Action Items",
    ]
    assert headings(markdown)[0] == "# Learning Review — INC-1042: Checkout latency"
    for heading in (
        "## After Action",
        "### Attendees",
        "## Data gaps — the first finding",
        "### Key metrics",
        "## Vendors",
        "## Escalations",
    ):
        assert heading in headings(markdown)
    assert "| Item | Owner | Due Date | Status |" in markdown
    assert "| Update runbook step 4 (AI-7) | Dana Reyes | 2026-12-01 | Open |" in markdown
    assert "| Time to Detect (TTD) | Alert fired → incident confirmed | 7 min |" in markdown
    assert "| Time to Resolve (MTTR) | Incident opened → validated recovery | 2 h |" in markdown
    assert "**Requirement:** mandatory" in markdown
    assert "| After Action scheduled by | 2026-11-21 12:00:00 UTC |" in markdown
    assert "- MIM (chair): Dana Reyes" in markdown
    assert (
        "| Acme Cloud | 2026-11-20 09:25:00 UTC | 2026-11-20 10:10:00 UTC | 45 min | 30 min | no |"
        in markdown
    )
    assert "after\\_action\\_not\\_scheduled" in markdown
    assert "The incident was caused by connection pool exhaustion." in markdown


def test_markdown_data_gaps_come_before_the_summary() -> None:
    markdown = render_markdown(learning_review())
    assert markdown.index("## Data gaps — the first finding") < markdown.index("## 1. Incident Summary")
    assert "(no\\_phase\\_transitions)" in markdown
    assert "No status updates" in markdown


def _table_rows(markdown: str, header: str) -> list[str]:
    lines = markdown.splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def _columns(row: str) -> int:
    # Unescaped pipes separate columns; a pipe from user text is escaped as "\|".
    return len(re.findall(r"(?<!\\)\|", row)) - 1


def test_hostile_text_cannot_break_the_markdown_structure() -> None:
    markdown = render_markdown(hostile_review())
    assert HOSTILE not in markdown
    # No raw HTML can reach a Markdown renderer: every "<" is escaped.
    assert not re.search(r"(?<!\\)<", markdown)
    assert "\\<img src=x onerror=alert(2)\\>" in markdown
    # Only the document's own headings: a "# Heading" typed by someone stays text.
    assert all(h.startswith(("# Learning Review", "## ", "### ")) for h in headings(markdown)), headings(
        markdown
    )
    assert "# Heading" not in headings(markdown)
    for header in (
        "| Item | Owner | Due Date | Status |",
        "| Change | Owner | Due Date |",
        "| Time (UTC) | Event | Fact |",
    ):
        rows = _table_rows(markdown, header)
        assert len(rows) > 2
        assert {_columns(row) for row in rows} == {_columns(header)}
    # Indented or list-like lines of a paragraph stay plain text.
    assert "\n    indented" not in markdown
    assert "\n- list" not in markdown
    assert "\\- list" in markdown


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a | b", "a \\| b"),
        ("# title", "\\# title"),
        ("- item", "\\- item"),
        ("1. first", "1\\. first"),
        ("**bold** _it_", "\\*\\*bold\\*\\* \\_it\\_"),
        ("[link](http://x)", "\\[link\\](http://x)"),
        ("<b>&amp;", "\\<b\\>\\&amp;"),
        ("a\nb", "a b"),
        ("R&D", "R&D"),
    ],
)
def test_markdown_escaping_of_user_text(text: str, escaped: str) -> None:
    assert escape_inline(text) == escaped


def test_block_text_keeps_paragraphs_but_not_structure() -> None:
    assert escape_block("First line\n  # second\n\n\n> third") == "First line\n\\# second\n\n\\> third"


# --- HTML -------------------------------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


def test_html_is_a_standalone_printable_page() -> None:
    page = render_html(learning_review())
    parsed = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert "script" not in parsed.tags
    assert not {"link", "img", "iframe", "object", "embed"} & parsed.tags
    assert not [name for name, _ in parsed.attrs if name == "src" or name.startswith("on")]
    assert "@media print" in page
    text = "".join(parsed.text)
    for title in (
        "1. Incident Summary",
        "2. Timeline",
        "3. Root Cause",
        "4. What Went Well",
        "5. What We Are Changing",
        "6. Learning Statements",
        "7. Action Items",
        "Data gaps — the first finding",
    ):
        assert title in text
    assert "Learning Review — INC-1042: Checkout latency" in text
    # The RCA address is a link, with its ampersand escaped in the attribute.
    assert 'href="https://acme.example/rca?id=1&amp;x=2"' in page


def test_hostile_text_is_escaped_everywhere_in_html() -> None:
    review = hostile_review()
    page = render_html(review)
    assert HOSTILE not in page
    assert "<img" not in page
    parsed = parse(page)
    assert parsed.tags <= {
        "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2", "h3", "p", "span",
        "blockquote", "section", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "dl", "dt", "dd",
        "strong", "a",
    }  # fmt: skip
    assert not [name for name, _ in parsed.attrs if name.startswith("on")]
    text = "".join(parsed.text)
    # The hostile text is shown as the characters people typed, in every section.
    for shown in (
        f"{HOSTILE} | # x",
        f"{HOSTILE}Eve",
        f"{HOSTILE} factor",
        f"{HOSTILE} went well",
        f"{HOSTILE} change | x",
        f"{HOSTILE} statement",
        f"{HOSTILE} | fix",
        f"{HOSTILE}Vendor",
        f"{HOSTILE} escalated",
        f"{HOSTILE}track",
        f"{HOSTILE}fp",
    ):
        assert shown in text, shown
    # Only http(s) addresses become links, and their quotes cannot leave the attribute.
    hrefs = [value for name, value in parsed.attrs if name == "href"]
    assert hrefs == ['https://x.example/"onmouseover="alert(3)']
    assert "javascript:alert(4)" in text


def test_the_html_title_element_is_escaped_too() -> None:
    page = render_html(hostile_review())
    title = page[page.index("<title>") : page.index("</title>")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in title
