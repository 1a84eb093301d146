"""The Learning Review as Markdown, laid out like the seed's template (sections 1–7).

Every text that comes from people or systems outside (titles, names, notes, URLs) goes through
:func:`escape_inline` or :func:`escape_block`, so it reads as the words it is and can never
become a heading, a list, a table column, a link or raw HTML in the rendered page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from majorops.reports.domain import wording
from majorops.reports.domain.attendees import Attendees
from majorops.reports.domain.data_gaps import DATA_GAP_TEXT
from majorops.reports.domain.document import LearningReview
from majorops.reports.domain.metrics import format_duration, metric_rows

# Characters with a meaning anywhere in a line (emphasis, code, links, HTML, headings, tables).
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
# "&amp;" would render as "&": escape the ampersand of anything that looks like an entity.
_ENTITY = re.compile(r"&(?=#?\w+;)")
# Markers that only mean something at the start of a line: lists, quotes, setext underlines.
_LINE_START = re.compile(r"^([-+=])|^(\d+)([.)])")


def _escape_line(line: str) -> str:
    escaped = _ENTITY.sub(r"\\&", _SPECIAL.sub(r"\\\1", line))
    return _LINE_START.sub(
        lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), escaped
    )


def escape_inline(text: object) -> str:
    """Text for one line (a list item, a table cell, a heading): whitespace and newlines collapse."""
    return _escape_line(" ".join(str(text).split()))


def escape_block(text: object) -> str:
    """Text for paragraphs: line breaks and blank-line paragraph breaks are kept, nothing else.

    Leading spaces are dropped so that indentation never turns text into a code block.
    """
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in str(text).splitlines():
        line = raw.strip()
        if line:
            current.append(_escape_line(" ".join(line.split())))
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)


def _cell(value: object | None) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "—"
    return escape_inline(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _bullets(items: Iterable[str], empty: str) -> list[str]:
    lines = [f"- {escape_inline(item)}" for item in items]
    return lines or [f"_{empty}_"]


def _person(person: str | None) -> str:
    return escape_inline(person) if person else "_unassigned_"


def _attendee_lines(attendees: Attendees) -> list[str]:
    lines = ["### Attendees", "", "**Required**", ""]
    for group, title in ((attendees.required, None), (attendees.optional, "**Optional / situational**")):
        if title is not None:
            lines += ["", title, ""]
        if not group:
            lines.append("_None_")
        for seat in group:
            where = seat.track or seat.vendor
            label = wording.role_label(seat.role) + (f" — {escape_inline(where)}" if where else "")
            reason = f" ({escape_inline(seat.reason)})" if seat.reason else ""
            lines.append(f"- {label}: {_person(seat.person)}{reason}")
    return lines


def _after_action_lines(review: LearningReview) -> list[str]:
    section = review.after_action
    requirement = section.requirement.value.replace("_", " ") if section.requirement else "not decided yet"
    lines = ["## After Action", "", f"**Requirement:** {escape_inline(requirement)}"]
    reasons = [f"- {escape_inline(reason.text)} ({escape_inline(reason.rule)})" for reason in section.reasons]
    if section.repeat_of:
        reasons.append(f"- Repeat of: {escape_inline(', '.join(section.repeat_of))}")
    if reasons:
        lines += ["", *reasons]
    deadlines = section.deadlines.model_dump()
    lines += [
        "",
        *_table(
            ["Deadline", "Due"],
            ([label, wording.format_when(deadlines[key])] for key, label in wording.DEADLINE_LABELS),
        ),
    ]
    meeting = wording.format_when(section.meeting_at)
    if section.reschedules:
        meeting += f" (rescheduled {section.reschedules}×)"
    lines += [
        "",
        f"**Meeting:** {meeting} · **Draft distributed:** {wording.format_when(section.draft_distributed_at)}"
        f" · **Held:** {wording.format_when(section.held_at)}",
        "",
        *_attendee_lines(review.attendees),
    ]
    return lines


def _data_gap_lines(review: LearningReview) -> list[str]:
    lines = [
        "## Data gaps — the first finding",
        "",
        "If the data does not exist because it was not logged during the incident, that gap is itself "
        "the first finding. Fix the capture, not the record.",
        "",
    ]
    if not review.data_gaps:
        return [*lines, "_None: the record holds every fact the review needs._"]
    return lines + [f"- {DATA_GAP_TEXT[gap]} ({escape_inline(gap.value)})" for gap in review.data_gaps]


def _summary_lines(review: LearningReview) -> list[str]:
    s = review.summary
    facts = [
        ("Incident ID", escape_inline(review.incident_id)),
        ("Title", _cell(s.title)),
        ("Severity", _cell(s.severity.value if s.severity else "unknown")),
        ("Duration", format_duration(s.duration_seconds)),
        ("Customer impact", wording.yes_no(s.customer_impact)),
        ("Affected users", _cell(s.affected_users)),
        ("Revenue exposure", _cell(s.revenue_exposure)),
        ("SLA status", _cell(s.sla_status)),
        ("Regulatory exposure", wording.yes_no(s.regulatory_exposure)),
        ("MIM", _person(s.mim)),
        ("Key responders", ", ".join(escape_inline(p) for p in s.responders) or "—"),
    ]
    return [f"## 1. {wording.SECTION_TITLES[0]}", "", *(f"- **{name}:** {value}" for name, value in facts)]


def _timeline_lines(review: LearningReview) -> list[str]:
    lines = [
        f"## 2. {wording.SECTION_TITLES[1]}",
        "",
        "Reconstructed from the incident record. Timestamps and facts only.",
        "",
    ]
    if review.timeline:
        lines += _table(
            ["Time (UTC)", "Event", "Fact"],
            ([wording.format_when(e.at), escape_inline(e.type), _cell(e.text)] for e in review.timeline),
        )
    else:
        lines.append("_No events recorded._")
    lines += ["", "### Key metrics", ""]
    lines += _table(
        ["Metric", "Definition", "Value"],
        ([d.name, d.definition, format_duration(value)] for d, value in metric_rows(review.metrics)),
    )
    return lines


def _root_cause_lines(review: LearningReview) -> list[str]:
    rc = review.root_cause
    lines = [f"## 3. {wording.SECTION_TITLES[2]}", ""]
    lines.append(escape_block(rc.text) if rc.text else "_Not written yet._")
    lines += ["", "**Contributing factors:**", "", *_bullets(rc.contributing_factors, "None recorded.")]
    if rc.fingerprint:
        lines += ["", f"**Fingerprint:** {escape_inline(rc.fingerprint)}"]
    if rc.vendor_related:
        lines += ["", "**Vendor-related:** yes"]
    return lines


def _change_lines(review: LearningReview) -> list[str]:
    lines = [f"## 5. {wording.SECTION_TITLES[4]}", ""]
    if not review.changes:
        return [*lines, "_No changes named yet. Each change needs an owner and a date._"]
    return lines + _table(
        ["Change", "Owner", "Due Date"],
        ([_cell(c.text), _cell(c.owner), _cell(c.due)] for c in review.changes),
    )


def _action_item_lines(review: LearningReview) -> list[str]:
    lines = [f"## 7. {wording.SECTION_TITLES[6]}", ""]
    if not review.action_items:
        return [*lines, "_No action items yet._"]
    return lines + _table(
        ["Item", "Owner", "Due Date", "Status"],
        (
            [
                f"{_cell(i.title)} ({escape_inline(i.item_id)})",
                _cell(i.owner),
                _cell(i.due),
                i.status.capitalize(),
            ]
            for i in review.action_items
        ),
    )


def _earlier_review_lines(review: LearningReview) -> list[str]:
    if not review.earlier_reviews:
        return []
    lines = [
        "## Earlier incidents with the same root cause",
        "",
        "A repeat incident means a prior learning was not implemented: these are the earlier reviews "
        "and their action items still open.",
    ]
    for earlier in review.earlier_reviews:
        heading = escape_inline(earlier.incident_id)
        if earlier.title:
            heading += f": {escape_inline(earlier.title)}"
        status = earlier.status.value if earlier.status else "no review recorded"
        lines += [
            "",
            f"### {heading} ({escape_inline(status)})",
            "",
            f"Review: {escape_inline(earlier.link)}",
            "",
        ]
        if earlier.open_action_items:
            lines += _table(
                ["Open item", "Owner", "Due Date"],
                (
                    [f"{_cell(i.title)} ({escape_inline(i.item_id)})", _cell(i.owner), _cell(i.due)]
                    for i in earlier.open_action_items
                ),
            )
        else:
            lines.append("_No open action items._")
    return lines


def _effectiveness_lines(review: LearningReview) -> list[str]:
    if not review.effectiveness:
        return []
    return [
        "## Action effectiveness",
        "",
        "Lessons are not learned until behavior changes: these completed items were followed by the same "
        "alert within 30 days.",
        "",
        *(f"- **{escape_inline(f.item_id)}** {escape_inline(f.message)}" for f in review.effectiveness),
    ]


def _vendor_lines(review: LearningReview) -> list[str]:
    lines = ["## Vendors", ""]
    if not review.vendors:
        return [*lines, "_No vendor was engaged._"]
    lines += _table(
        ["Vendor", "Engaged", "Responded", "Response", "SLA", "SLA met", "RCA due", "RCA received"],
        (
            [
                _cell(v.vendor),
                wording.format_when(v.engaged_at),
                wording.format_when(v.responded_at),
                f"{v.response_minutes} min" if v.response_minutes is not None else "—",
                f"{v.response_sla_minutes} min" if v.response_sla_minutes is not None else "unknown",
                wording.yes_no(v.sla_met),
                wording.format_when(v.rca_due),
                wording.format_when(v.rca_received_at),
            ]
            for v in review.vendors
        ),
    )
    # The RCA is an appendix of the review once received; the address is shown as text, never a link.
    lines += [f"- RCA of {escape_inline(v.vendor)}: {escape_inline(v.url)}" for v in review.vendors if v.url]
    return lines


def _escalation_lines(review: LearningReview) -> list[str]:
    lines = ["## Escalations", ""]
    if not review.escalations:
        return [*lines, "_None fired._"]
    return lines + _table(
        ["Fired", "Kind", "Level", "Notified", "Message"],
        (
            [
                wording.format_when(e.fired_at),
                escape_inline(e.kind) + (f" ({escape_inline(e.item)})" if e.item else ""),
                str(e.level),
                escape_inline(wording.role_label(e.notify.role))
                + (f": {escape_inline(e.notify.person)}" if e.notify.person else ""),
                _cell(e.message),
            ]
            for e in review.escalations
        ),
    )


def _lint_lines(review: LearningReview) -> list[str]:
    lines = ["## Review findings", ""]
    if not review.lint:
        return [*lines, "_None._"]
    return lines + [
        f"- **{f.severity}** {escape_inline(f.code.value)} ({escape_inline(f.section)}): {escape_inline(f.message)}"
        for f in review.lint
    ]


def render_markdown(review: LearningReview) -> str:
    """The whole Learning Review as one Markdown document."""
    title = f"Learning Review — {escape_inline(review.incident_id)}"
    if review.summary.title:
        title += f": {escape_inline(review.summary.title)}"
    status = "Published" if review.status == "published" else "Draft"
    if review.published_at is not None:
        status += f" ({wording.format_when(review.published_at)})"
    sections = [
        [f"# {title}", "", f"**Status:** {status}", "", f"> {escape_inline(wording.GUIDING_QUESTION)}"],
        _after_action_lines(review),
        _data_gap_lines(review),
        _summary_lines(review),
        _timeline_lines(review),
        _root_cause_lines(review),
        [f"## 4. {wording.SECTION_TITLES[3]}", "", *_bullets(review.went_well, "Nothing recorded yet.")],
        _change_lines(review),
        [f"## 6. {wording.SECTION_TITLES[5]}", "", *_bullets(review.learning_statements, "None yet.")],
        _action_item_lines(review),
        _effectiveness_lines(review),
        _earlier_review_lines(review),
        _vendor_lines(review),
        _escalation_lines(review),
        _lint_lines(review),
    ]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"
