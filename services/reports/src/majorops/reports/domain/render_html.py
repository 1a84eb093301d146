"""The Learning Review as one standalone, printable HTML page.

Inline CSS, no scripts, no external assets (a Content-Security-Policy meta tag forbids them as a
second line of defence). Every text goes through :func:`html.escape` — titles, names, notes and
URLs alike — so a title such as ``<script>alert(1)</script>`` is shown as those characters.
Links are only made for ``http``/``https`` addresses.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from majorops.reports.domain import wording
from majorops.reports.domain.attendees import Attendee
from majorops.reports.domain.data_gaps import DATA_GAP_TEXT
from majorops.reports.domain.document import LearningReview
from majorops.reports.domain.metrics import format_duration, metric_rows

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24;
       max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; margin-bottom: .25rem; }
h2 { font-size: 1.2rem; border-bottom: 2px solid #d0d7de; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin-top: 1.25rem; }
.status { color: #57606a; margin-top: 0; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .3rem; font-size: .8rem;
         font-weight: 600; background: #eaeef2; }
.badge.published { background: #dafbe1; } .badge.draft { background: #fff8c5; }
.badge.error { background: #ffebe9; color: #82071e; } .badge.warning { background: #fff8c5; }
blockquote { margin: 1rem 0; padding: .5rem 1rem; border-left: 4px solid #d0d7de; color: #57606a; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.empty { color: #57606a; font-style: italic; }
.root-cause p { white-space: pre-line; }
@page { margin: 16mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  h2 { break-after: avoid; } tr, li { break-inside: avoid; }
  a { color: inherit; }
}
""".strip()

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; base-uri 'none'"


def esc(value: object) -> str:
    """HTML-escape any value's text, quotes included (safe in elements and attributes)."""
    return html.escape(str(value), quote=True)


def _or_dash(value: object | None) -> str:
    return esc(value) if value is not None and str(value).strip() else "—"


def _empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table; ``header`` and ``rows`` hold already-escaped HTML."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _list(items: Iterable[str], empty: str) -> str:
    """A bulleted list of already-escaped HTML items."""
    lis = "".join(f"<li>{item}</li>" for item in items)
    return f"<ul>{lis}</ul>" if lis else _empty(empty)


def _person(person: str | None) -> str:
    return esc(person) if person else '<span class="empty">unassigned</span>'


def _seat(seat: Attendee) -> str:
    where = seat.track or seat.vendor
    label = esc(wording.role_label(seat.role)) + (f" — {esc(where)}" if where else "")
    reason = f" ({esc(seat.reason)})" if seat.reason else ""
    return f"{label}: {_person(seat.person)}{reason}"


def _after_action(review: LearningReview) -> str:
    section = review.after_action
    requirement = section.requirement.value.replace("_", " ") if section.requirement else "not decided yet"
    reasons = _list((f"{esc(r.text)} ({esc(r.rule)})" for r in section.reasons), "No rule applies yet.")
    deadlines = section.deadlines.model_dump()
    meeting = esc(wording.format_when(section.meeting_at))
    if section.reschedules:
        meeting += f" (rescheduled {section.reschedules}×)"
    attendees = review.attendees
    return (
        "<section><h2>After Action</h2>"
        f"<p><strong>Requirement:</strong> {esc(requirement)}</p>{reasons}"
        + (f"<p>Repeat of: {esc(', '.join(section.repeat_of))}</p>" if section.repeat_of else "")
        + _table(
            ["Deadline", "Due"],
            (
                [esc(label), esc(wording.format_when(deadlines[key]))]
                for key, label in wording.DEADLINE_LABELS
            ),
        )
        + f"<p><strong>Meeting:</strong> {meeting} · <strong>Draft distributed:</strong> "
        f"{esc(wording.format_when(section.draft_distributed_at))} · <strong>Held:</strong> {esc(wording.format_when(section.held_at))}</p>"
        "<h3>Attendees</h3><p><strong>Required</strong></p>"
        + _list((_seat(seat) for seat in attendees.required), "None")
        + "<p><strong>Optional / situational</strong></p>"
        + _list((_seat(seat) for seat in attendees.optional), "None")
        + "</section>"
    )


def _data_gaps(review: LearningReview) -> str:
    intro = (
        "<p>If the data does not exist because it was not logged during the incident, that gap is itself "
        "the first finding. Fix the capture, not the record.</p>"
    )
    gaps = _list(
        (f"{esc(DATA_GAP_TEXT[gap])} ({esc(gap.value)})" for gap in review.data_gaps),
        "None: the record holds every fact the review needs.",
    )
    return f'<section id="data-gaps"><h2>Data gaps — the first finding</h2>{intro}{gaps}</section>'


def _summary(review: LearningReview) -> str:
    s = review.summary
    facts = [
        ("Incident ID", esc(review.incident_id)),
        ("Title", _or_dash(s.title)),
        ("Severity", esc(s.severity.value if s.severity else "unknown")),
        ("Duration", esc(format_duration(s.duration_seconds))),
        ("Customer impact", esc(wording.yes_no(s.customer_impact))),
        ("Affected users", _or_dash(s.affected_users)),
        ("Revenue exposure", _or_dash(s.revenue_exposure)),
        ("SLA status", _or_dash(s.sla_status)),
        ("Regulatory exposure", esc(wording.yes_no(s.regulatory_exposure))),
        ("MIM", _person(s.mim)),
        ("Key responders", esc(", ".join(s.responders)) or "—"),
    ]
    rows = "".join(f"<dt>{esc(name)}</dt><dd>{value}</dd>" for name, value in facts)
    return f'<section id="summary"><h2>1. {esc(wording.SECTION_TITLES[0])}</h2><dl class="facts">{rows}</dl></section>'


def _timeline(review: LearningReview) -> str:
    events = (
        _table(
            ["Time (UTC)", "Event", "Fact"],
            ([esc(wording.format_when(e.at)), esc(e.type), esc(e.text)] for e in review.timeline),
        )
        if review.timeline
        else _empty("No events recorded.")
    )
    metrics = _table(
        ["Metric", "Definition", "Value"],
        ([esc(d.name), esc(d.definition), esc(format_duration(v))] for d, v in metric_rows(review.metrics)),
    )
    return (
        f'<section id="timeline"><h2>2. {esc(wording.SECTION_TITLES[1])}</h2>'
        "<p>Reconstructed from the incident record. Timestamps and facts only.</p>"
        f"{events}<h3>Key metrics</h3>{metrics}</section>"
    )


def _root_cause(review: LearningReview) -> str:
    rc = review.root_cause
    text = f"<p>{esc(rc.text)}</p>" if rc.text else _empty("Not written yet.")
    factors = _list((esc(f) for f in rc.contributing_factors), "None recorded.")
    extra = f"<p><strong>Fingerprint:</strong> {esc(rc.fingerprint)}</p>" if rc.fingerprint else ""
    if rc.vendor_related:
        extra += "<p><strong>Vendor-related:</strong> yes</p>"
    return (
        f'<section id="root-cause" class="root-cause"><h2>3. {esc(wording.SECTION_TITLES[2])}</h2>{text}'
        f"<p><strong>Contributing factors:</strong></p>{factors}{extra}</section>"
    )


def _changes(review: LearningReview) -> str:
    body = (
        _table(
            ["Change", "Owner", "Due Date"],
            ([esc(c.text), _or_dash(c.owner), _or_dash(c.due)] for c in review.changes),
        )
        if review.changes
        else _empty("No changes named yet. Each change needs an owner and a date.")
    )
    return f'<section id="changes"><h2>5. {esc(wording.SECTION_TITLES[4])}</h2>{body}</section>'


def _action_items(review: LearningReview) -> str:
    body = (
        _table(
            ["Item", "Owner", "Due Date", "Status"],
            (
                [
                    f"{esc(i.title)} ({esc(i.item_id)})",
                    _or_dash(i.owner),
                    _or_dash(i.due),
                    esc(i.status.capitalize()),
                ]
                for i in review.action_items
            ),
        )
        if review.action_items
        else _empty("No action items yet.")
    )
    return f'<section id="action-items"><h2>7. {esc(wording.SECTION_TITLES[6])}</h2>{body}</section>'


def _earlier_reviews(review: LearningReview) -> str:
    if not review.earlier_reviews:
        return ""
    parts = [
        '<section id="earlier-reviews"><h2>Earlier incidents with the same root cause</h2>'
        "<p>A repeat incident means a prior learning was not implemented: these are the earlier reviews "
        "and their action items still open.</p>"
    ]
    for earlier in review.earlier_reviews:
        heading = esc(earlier.incident_id) + (f": {esc(earlier.title)}" if earlier.title else "")
        status = esc(earlier.status.value if earlier.status else "no review recorded")
        # The link is built from a contract-checked incident id, and escaped all the same.
        link = f'<a href="{esc(earlier.link)}.html">{esc(earlier.link)}</a>'
        items = (
            _table(
                ["Open item", "Owner", "Due Date"],
                (
                    [f"{esc(i.title)} ({esc(i.item_id)})", _or_dash(i.owner), _or_dash(i.due)]
                    for i in earlier.open_action_items
                ),
            )
            if earlier.open_action_items
            else _empty("No open action items.")
        )
        parts.append(f"<h3>{heading} ({status})</h3><p>Review: {link}</p>{items}")
    return "".join(parts) + "</section>"


def _effectiveness(review: LearningReview) -> str:
    if not review.effectiveness:
        return ""
    items = _list((f"<strong>{esc(f.item_id)}</strong> {esc(f.message)}" for f in review.effectiveness), "")
    return (
        '<section id="effectiveness"><h2>Action effectiveness</h2>'
        "<p>Lessons are not learned until behavior changes: these completed items were followed by the "
        f"same alert within 30 days.</p>{items}</section>"
    )


def _rca_link(url: str) -> str:
    if url.lower().startswith(("https://", "http://")):
        return f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(url)}</a>'
    return esc(url)


def _vendors(review: LearningReview) -> str:
    if not review.vendors:
        return f'<section id="vendors"><h2>Vendors</h2>{_empty("No vendor was engaged.")}</section>'
    table = _table(
        ["Vendor", "Engaged", "Responded", "Response", "SLA", "SLA met", "RCA due", "RCA received"],
        (
            [
                esc(v.vendor),
                esc(wording.format_when(v.engaged_at)),
                esc(wording.format_when(v.responded_at)),
                f"{v.response_minutes} min" if v.response_minutes is not None else "—",
                f"{v.response_sla_minutes} min" if v.response_sla_minutes is not None else "unknown",
                esc(wording.yes_no(v.sla_met)),
                esc(wording.format_when(v.rca_due)),
                esc(wording.format_when(v.rca_received_at)),
            ]
            for v in review.vendors
        ),
    )
    rcas = "".join(f"<p>RCA of {esc(v.vendor)}: {_rca_link(v.url)}</p>" for v in review.vendors if v.url)
    return f'<section id="vendors"><h2>Vendors</h2>{table}{rcas}</section>'


def _escalations(review: LearningReview) -> str:
    if not review.escalations:
        return f'<section id="escalations"><h2>Escalations</h2>{_empty("None fired.")}</section>'
    table = _table(
        ["Fired", "Kind", "Level", "Notified", "Message"],
        (
            [
                esc(wording.format_when(e.fired_at)),
                esc(e.kind) + (f" ({esc(e.item)})" if e.item else ""),
                esc(e.level),
                esc(wording.role_label(e.notify.role))
                + (f": {esc(e.notify.person)}" if e.notify.person else ""),
                esc(e.message),
            ]
            for e in review.escalations
        ),
    )
    return f'<section id="escalations"><h2>Escalations</h2>{table}</section>'


def _findings(review: LearningReview) -> str:
    items = (
        f'<span class="badge {esc(f.severity)}">{esc(f.severity)}</span> {esc(f.code.value)} '
        f"({esc(f.section)}): {esc(f.message)}"
        for f in review.lint
    )
    return f'<section id="findings"><h2>Review findings</h2>{_list(items, "None.")}</section>'


def render_html(review: LearningReview) -> str:
    """The whole Learning Review as a standalone HTML page."""
    heading = f"Learning Review — {review.incident_id}"
    if review.summary.title:
        heading += f": {review.summary.title}"
    status = "published" if review.status == "published" else "draft"
    published = f" {esc(wording.format_when(review.published_at))}" if review.published_at else ""
    body = "".join(
        [
            f"<header><h1>{esc(heading)}</h1>"
            f'<p class="status"><span class="badge {status}">{status.capitalize()}</span>{published}</p>'
            f"<blockquote>{esc(wording.GUIDING_QUESTION)}</blockquote></header>",
            _after_action(review),
            _data_gaps(review),
            _summary(review),
            _timeline(review),
            _root_cause(review),
            f'<section id="went-well"><h2>4. {esc(wording.SECTION_TITLES[3])}</h2>'
            f"{_list((esc(w) for w in review.went_well), 'Nothing recorded yet.')}</section>",
            _changes(review),
            f'<section id="learning-statements"><h2>6. {esc(wording.SECTION_TITLES[5])}</h2>'
            f"{_list((esc(s) for s in review.learning_statements), 'None yet.')}</section>",
            _action_items(review),
            _effectiveness(review),
            _earlier_reviews(review),
            _vendors(review),
            _escalations(review),
            _findings(review),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(heading)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
