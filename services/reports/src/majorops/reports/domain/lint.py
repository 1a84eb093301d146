"""Lint of the Learning Review: what keeps it from being blameless, specific and tracked (CONTRACT §5).

Errors block publication (:func:`blocking_findings`); warnings are advice.

| code                            | severity | section             |
|---------------------------------|----------|---------------------|
| ``name_in_root_cause``          | error    | root_cause          |
| ``root_cause_format``           | warning  | root_cause          |
| ``change_missing_owner_or_date``| error    | changes             |
| ``vague_learning_statement``    | warning  | learning_statements |
| ``action_item_missing_owner``   | error    | action_items        |
| ``action_item_missing_due``     | error    | action_items        |
| ``vendor_item_without_date``    | error    | vendors             |
| ``critical_without_mtm``        | warning  | timeline            |

A critical incident resolved more than 2 h after its declaration with no ``mtm.held`` by its
resolution gets ``critical_without_mtm``: the process calls a Major Technical Meeting at 2 h, and
reminders only suggests one while the incident runs (a suggestion read afterwards would be stale),
so the review is where a missing MTM is discussed.

Names in the root cause ("No names in root cause. Systems and processes only."): the names are
every person the record shows acting — ``role.assigned`` persons, track leads, ``phase.entered``
and ``timeline.logged`` authors (the review's ``summary.responders``). For each person:

- the whole name ("Dana Reyes") is caught as a whole word in any case ("dana reyes", "DANA REYES"),
  with any spacing between its words;
- a handle ("@dreyes") is caught in any case with or without its ``@`` ("dreyes", "@DReyes"); a
  person recorded as one word without ``@`` is treated as a handle;
- each part of a multi-word name of two letters or more ("Dana", "Reyes") is caught too, because
  "Dana restarted the pool" is exactly the sentence the rule exists to stop — but only where it is
  written as a name, capitalised ("Dana", "DANA", not "dana"). That keeps ordinary words that
  happen to be first names ("will", "grant", "mark") from blocking publication.

Only open action items are linted for owner and due date: a completed item has done its job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from majorops.reports.domain.document import LearningReview
from majorops.reports.domain.lint_findings import (
    SEVERITY,
    LintCode,
    LintFinding,
)
from majorops.shared.escalations import MTM_RECOMMENDED_AFTER
from majorops.shared.events import Severity

__all__ = [
    "ROOT_CAUSE_OPENING",
    "VAGUE_PHRASES",
    "ResponderName",
    "lint_learning_review",
    "names_in",
    "responder_name",
    "vague_reason",
]

ROOT_CAUSE_OPENING = "The incident was caused by"


def _finding(code: LintCode, section: str, message: str, ref: str | None = None) -> LintFinding:
    return LintFinding(code=code, severity=SEVERITY[code], section=section, message=message, ref=ref)


# --- names ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponderName:
    """How one person of the record is recognised in text."""

    person: str
    patterns: tuple[re.Pattern[str], ...]

    def found_in(self, text: str) -> list[str]:
        """The distinct words of ``text`` that name this person, in order of appearance."""
        hits: list[tuple[int, str]] = []
        for pattern in self.patterns:
            hits.extend((match.start(), match.group(0)) for match in pattern.finditer(text))
        words: list[str] = []
        for _, word in sorted(hits):
            if word not in words:
                words.append(word)
        # "Dana Reyes" also matches "Dana" and "Reyes": report the longest words only.
        return [w for w in words if not any(w != other and w in other for other in words)]


_BEFORE = r"(?<![\w@])"
_AFTER = r"(?!\w)"
_NAME_PART = re.compile(r"[^\W\d_][\w'’-]*[\w]")


def responder_name(person: str) -> ResponderName | None:
    """The patterns that recognise ``person`` (see the module docstring for the rules)."""
    words = person.split()
    if not words:
        return None
    patterns: list[re.Pattern[str]] = []
    if len(words) == 1:
        handle = words[0].lstrip("@")
        if handle:
            patterns.append(re.compile(_BEFORE + "@?" + re.escape(handle) + _AFTER, re.IGNORECASE))
    else:
        whole = r"\s+".join(re.escape(word) for word in words)
        patterns.append(re.compile(_BEFORE + whole + _AFTER, re.IGNORECASE))
        for word in words:
            if word.startswith("@") and len(word) > 1:
                patterns.append(re.compile(_BEFORE + "@?" + re.escape(word[1:]) + _AFTER, re.IGNORECASE))
                continue
            part = _NAME_PART.search(word)
            if part is None:
                continue
            name = part.group(0)
            # First letter upper case, the rest in any case: "Dana"/"DANA", never "dana".
            patterns.append(
                re.compile(_BEFORE + re.escape(name[0].upper()) + "(?i:" + re.escape(name[1:]) + ")" + _AFTER)
            )
    return ResponderName(person=person, patterns=tuple(patterns)) if patterns else None


def names_in(text: str, persons: Iterable[str]) -> list[tuple[str, list[str]]]:
    """``(person, words)`` for every person named in ``text``."""
    found = []
    for person in persons:
        name = responder_name(person)
        words = name.found_in(text) if name is not None else []
        if words:
            found.append((person, words))
    return found


def _quote_all(words: Sequence[str]) -> str:
    return ", ".join(f'"{word}"' for word in words)


def _lint_names(review: LearningReview) -> list[LintFinding]:
    fields = [("text", "The root cause", review.root_cause.text or "")] + [
        (f"contributing_factors[{index}]", f"Contributing factor {index + 1}", factor)
        for index, factor in enumerate(review.root_cause.contributing_factors)
    ]
    findings = []
    for ref, where, text in fields:
        for person, words in names_in(text, review.summary.responders):
            findings.append(
                _finding(
                    LintCode.NAME_IN_ROOT_CAUSE,
                    "root_cause",
                    f"{where} names {_quote_all(words)} (responder {person}). No names in root cause: "
                    "systems and processes only. Ask what system allowed the error and name that, e.g. "
                    '"The deploy pipeline allowed an unreviewed config change" instead of '
                    f'"{words[0]} pushed a bad config". Names belong in action item owners.',
                    ref,
                )
            )
    return findings


def _lint_root_cause_format(review: LearningReview) -> list[LintFinding]:
    text = (review.root_cause.text or "").strip()
    template = f'"{ROOT_CAUSE_OPENING} [specific failure]. Contributing factors include [list]."'
    if not text:
        return [
            _finding(
                LintCode.ROOT_CAUSE_FORMAT,
                "root_cause",
                f"No root cause text yet. Write it as {template}",
                "text",
            )
        ]
    if text.casefold().startswith(ROOT_CAUSE_OPENING.casefold()):
        return []
    opening = " ".join(text.split()[:6])
    return [
        _finding(
            LintCode.ROOT_CAUSE_FORMAT,
            "root_cause",
            f'The root cause starts "{opening}…"; write it as {template}',
            "text",
        )
    ]


# --- the process: a Major Technical Meeting for a long critical incident ----------------------


def _first(review: LearningReview, event_type: str) -> datetime | None:
    return min((entry.at for entry in review.timeline if entry.type == event_type), default=None)


def _lint_missing_mtm(review: LearningReview) -> list[LintFinding]:
    if review.summary.severity != Severity.CRITICAL:
        return []
    declared, resolved = _first(review, "incident.declared"), _first(review, "incident.resolved")
    if declared is None or resolved is None or resolved - declared <= MTM_RECOMMENDED_AFTER:
        return []
    if any(entry.type == "mtm.held" and entry.at <= resolved for entry in review.timeline):
        return []
    hours = (resolved - declared).total_seconds() / 3600
    return [
        _finding(
            LintCode.CRITICAL_WITHOUT_MTM,
            "timeline",
            f"Critical incident over 2 h without an MTM: resolved {hours:.1f} h after its declaration and "
            "no Major Technical Meeting is recorded before the resolution. Discuss why none was called "
            "(and record it with mtm.held if one was held).",
        )
    ]


# --- changes, learning statements -------------------------------------------------------------


def _lint_changes(review: LearningReview) -> list[LintFinding]:
    findings = []
    for index, change in enumerate(review.changes):
        missing = [
            what
            for what, value in (("owner", change.owner), ("date", change.due))
            if value is None or not value.strip()
        ]
        if missing:
            findings.append(
                _finding(
                    LintCode.CHANGE_MISSING_OWNER_OR_DATE,
                    "changes",
                    f'Change "{change.text}" has no {" and no ".join(missing)}: '
                    "each change names who makes it and by when, e.g. "
                    '"Add a pool-saturation alert — SRE lead — 2026-12-01".',
                    str(index),
                )
            )
    return findings


VAGUE_PHRASES: tuple[str, ...] = (
    "communicate better",
    "better communication",
    "improve communication",
    "be more careful",
    "be careful",
    "more carefully",
    "improve monitoring",
    "better monitoring",
    "more monitoring",
    "pay more attention",
    "pay attention",
    "follow the process",
    "follow process",
    "be more vigilant",
    "try harder",
    "work harder",
    "more testing",
    "test more",
    "double check",
    "double-check",
    "lessons learned",
)
"""Phrases the seed calls out ("Not 'communicate better'"): they name no change anyone can make."""

_VAGUE = [
    (phrase, re.compile(_BEFORE + r"\s+".join(map(re.escape, phrase.split())) + _AFTER, re.IGNORECASE))
    for phrase in VAGUE_PHRASES
]

_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}|\b\d{1,2}/\d{1,2}(/\d{2,4})?\b|\[date\]"
    rf"|\b({_MONTHS})[a-z]*\.?\s+\d{{1,2}}\b|\b\d{{1,2}}\s+({_MONTHS})[a-z]*\b"
    r"|\bQ[1-4]\b|\b(next|this|end of( the)?)\s+(week|month|quarter|sprint|release|year)\b"
    r"|\b(by|before|on)\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow)\b"
    r"|\bwithin\s+\d+\s+(days?|weeks?|months?)\b|\b(eod|eow|eom)\b",
    re.IGNORECASE,
)
_OWNER = re.compile(
    r"\b(lead|leads|manager|owner|owners|team|teams|engineer|engineers|engineering|sre|dba|mim|"
    r"on-?call|architect|director|admin|administrator|developers?|desk|squad|ops)\b|(?<!\w)@\w+",
    re.IGNORECASE,
)
_SYSTEM = re.compile(
    r"\b(runbooks?|run ?cards?|playbooks?|alerts?|alerting|dashboards?|monitors?|database|db|pipelines?|"
    r"services?|config(uration)?s?|apis?|queues?|cache|caches|pools?|clusters?|deploy(ment)?s?|scripts?|"
    r"servers?|nodes?|hosts?|network|dns|load ?balancers?|certificates?|endpoints?|jobs?|cron|schema|"
    r"index(es)?|replicas?|failover|backups?|storage|disks?|memory|cpu|vendors?|contracts?|contacts?|"
    r"checklists?|wiki|release|feature flags?|tracks?|step \d+|timeouts?|limits?|thresholds?|"
    r"rollbacks?|migrations?|tests?)\b"
    # Code spans, dotted/dashed identifiers, acronyms (case-sensitive: DB, CDN), anything numbered.
    r"|`[^`]+`|\b\w+[-_.]\w+\b|(?-i:\b[A-Z]{2,}\b)|\b\w*\d\w*\b",
    re.IGNORECASE,
)


def vague_reason(statement: str) -> str | None:
    """Why a learning statement is vague, or ``None`` when it is specific enough."""
    phrases = [phrase for phrase, pattern in _VAGUE if pattern.search(statement)]
    if phrases:
        return f"it says {_quote_all(phrases)}"
    if not (_SYSTEM.search(statement) or _OWNER.search(statement) or _DATE.search(statement)):
        return "it names no system, no owner and no date"
    return None


def _lint_learning_statements(review: LearningReview) -> list[LintFinding]:
    findings = []
    for index, statement in enumerate(review.learning_statements):
        reason = vague_reason(statement)
        if reason is not None:
            findings.append(
                _finding(
                    LintCode.VAGUE_LEARNING_STATEMENT,
                    "learning_statements",
                    f'Learning statement "{statement}" is vague: {reason}. Make it specific, named and '
                    'actionable, e.g. "Runbook step 4 does not cover an unreachable primary DB. '
                    'SRE lead updating by 2026-12-01."',
                    str(index),
                )
            )
    return findings


# --- action items, vendors --------------------------------------------------------------------


def _lint_action_items(review: LearningReview) -> list[LintFinding]:
    findings = []
    for item in review.action_items:
        if item.status != "open":
            continue
        if item.owner is None or not item.owner.strip():
            findings.append(
                _finding(
                    LintCode.ACTION_ITEM_MISSING_OWNER,
                    "action_items",
                    f'Action item {item.item_id} "{item.title}" has no owner: every item needs a named '
                    "owner, or it becomes a vanishing task.",
                    item.item_id,
                )
            )
        if item.due is None or not item.due.strip():
            findings.append(
                _finding(
                    LintCode.ACTION_ITEM_MISSING_DUE,
                    "action_items",
                    f'Action item {item.item_id} "{item.title}" has no due date: set one so it is '
                    "tracked and escalated when it passes.",
                    item.item_id,
                )
            )
    return findings


def _lint_vendors(review: LearningReview) -> list[LintFinding]:
    return [
        _finding(
            LintCode.VENDOR_ITEM_WITHOUT_DATE,
            "vendors",
            f"Vendor {vendor.vendor} was engaged but has no committed RCA date and no RCA received: "
            '"We\'re waiting on them" is not a closed item. Get a committed date (vendor.rca_committed) '
            "and assign the follow-up to the Service Manager.",
            vendor.vendor,
        )
        for vendor in review.vendors
        if vendor.rca_open_without_date
    ]


def lint_learning_review(review: LearningReview) -> list[LintFinding]:
    """Every finding of the review, in document order (timeline, root cause, changes, statements,
    items, vendors)."""
    return [
        *_lint_missing_mtm(review),
        *_lint_names(review),
        *_lint_root_cause_format(review),
        *_lint_changes(review),
        *_lint_learning_statements(review),
        *_lint_action_items(review),
        *_lint_vendors(review),
    ]
