"""Lint of the Learning Review: blameless, specific, tracked (CONTRACT §5 ``lint``)."""

from __future__ import annotations

import pytest

from majorops.reports.domain.document import Change, LearningReview, Narrative
from majorops.reports.domain.learning_review import assemble_learning_review
from majorops.reports.domain.lint import lint_learning_review, names_in, vague_reason
from majorops.reports.domain.lint_findings import LintCode, LintFinding, blocking_findings
from majorops.shared.events import CloudEvent
from majorops.shared.testing import IncidentEvents

GOOD_ROOT_CAUSE = "The incident was caused by connection pool exhaustion on the primary database."
GOOD_STATEMENT = "Runbook step 4 does not cover an unreachable primary DB. SRE lead updating by 2026-12-01."


event = IncidentEvents("INC-1042", content_ids=True)


RESPONDERS = [
    event("role.assigned", 1, {"role": "mim", "person": "Dana Reyes"}),
    event("role.assigned", 2, {"role": "technical_recovery_lead", "person": "@kpatel"}),
    event("track.opened", 3, {"track": "db", "lead": "Lee Wong"}),
    event("phase.entered", 4, {"phase": "recovery", "by": "Will Turner"}),
    event("timeline.logged", 5, {"text": "Failover started", "by": "mchen"}),
]


def review(
    *,
    root_cause: str | None = GOOD_ROOT_CAUSE,
    factors: list[str] | None = None,
    changes: list[Change] | None = None,
    statements: list[str] | None = None,
    extra: list[CloudEvent] | None = None,
) -> LearningReview:
    narrative = Narrative(
        root_cause=root_cause,
        contributing_factors=factors or [],
        changes=changes or [],
        learning_statements=statements if statements is not None else [GOOD_STATEMENT],
    )
    return assemble_learning_review([*RESPONDERS, *(extra or [])], None, [], narrative)


def codes(findings: list[LintFinding]) -> list[str]:
    return [f.code.value for f in findings]


def test_a_blameless_specific_tracked_review_has_no_findings() -> None:
    clean = review(
        factors=["Pool size was not re-tuned after the schema migration"],
        changes=[Change(text="Add a pool saturation alert", owner="SRE lead", due="2026-12-01")],
        extra=[
            event(
                "actionitem.created",
                300,
                {"item_id": "AI-7", "title": "Tune pool", "owner": "Dana Reyes", "due": "2026-12-01"},
            ),
            event("vendor.engaged", 10, {"vendor": "Acme", "response_sla_minutes": 30}),
            event("vendor.rca_committed", 200, {"vendor": "Acme", "due": "2026-11-27T12:00:00Z"}),
        ],
    )
    assert clean.lint == []
    assert blocking_findings(clean.lint) == []


# --- names in the root cause ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("The incident was caused by Dana Reyes restarting the pool.", "Dana Reyes"),
        ("The incident was caused by dana  reyes restarting the pool.", "dana  reyes"),
        ("The incident was caused by Dana restarting the pool.", "Dana"),
        ("The incident was caused by a change Reyes pushed.", "Reyes"),
        ("The incident was caused by a config pushed by @kpatel.", "@kpatel"),
        ("The incident was caused by a config pushed by kpatel.", "kpatel"),
        ("The incident was caused by a config pushed by KPatel.", "KPatel"),
        ("The incident was caused by Lee's late failover.", "Lee"),
        ("The incident was caused by Will skipping a step.", "Will"),
        ("The incident was caused by a script mchen ran.", "mchen"),
    ],
)
def test_a_responder_named_in_the_root_cause_blocks_publication(text: str, named: str) -> None:
    findings = lint_learning_review(review(root_cause=text))
    [finding] = [f for f in findings if f.code is LintCode.NAME_IN_ROOT_CAUSE]
    assert finding.severity == "error"
    assert finding.section == "root_cause"
    assert finding.ref == "text"
    assert f'"{named}"' in finding.message
    assert "systems and processes" in finding.message
    assert blocking_findings(findings) == [finding]


def test_names_in_contributing_factors_are_caught_with_their_position() -> None:
    findings = lint_learning_review(review(factors=["Pool size untuned", "Dana Reyes skipped the checklist"]))
    [finding] = findings
    assert (finding.code, finding.ref) == (LintCode.NAME_IN_ROOT_CAUSE, "contributing_factors[1]")
    assert '"Dana Reyes"' in finding.message
    assert "Contributing factor 2" in finding.message


@pytest.mark.parametrize(
    "text",
    [
        "The incident was caused by a retry loop that will not stop.",  # "will", not "Will"
        "The incident was caused by the analytics job exhausting the pool.",  # "Ana" inside a word
        "The incident was caused by the leeway in the timeout.",  # "Lee" only as a whole word
        "The incident was caused by a mail to ops@kpatelbot.example bouncing.",
    ],
)
def test_words_that_merely_contain_a_name_are_not_flagged(text: str) -> None:
    assert LintCode.NAME_IN_ROOT_CAUSE not in codes(lint_learning_review(review(root_cause=text)))


def test_the_name_rules_are_whole_word_and_capitalised_for_name_parts() -> None:
    persons = ["Dana Reyes", "@kpatel", "Will Turner"]
    assert names_in("Dana did it", persons) == [("Dana Reyes", ["Dana"])]
    assert names_in("DANA did it", persons) == [("Dana Reyes", ["DANA"])]
    assert names_in("dana did it", persons) == []  # a lower-case name part reads as an ordinary word
    assert names_in("dana reyes did it", persons) == [("Dana Reyes", ["dana reyes"])]
    assert names_in("it will fail", persons) == []
    assert names_in("ask @KPATEL", persons) == [("@kpatel", ["@KPATEL"])]
    assert names_in("email kpatel@corp", persons) == [("@kpatel", ["kpatel"])]
    assert names_in("Reyesville and Danalytics", persons) == []


def test_names_outside_the_record_are_not_guessed() -> None:
    text = "The incident was caused by Jordan deploying on Friday."
    assert LintCode.NAME_IN_ROOT_CAUSE not in codes(lint_learning_review(review(root_cause=text)))


# --- root cause format ------------------------------------------------------------------------


def test_the_root_cause_should_open_with_the_standard_form() -> None:
    [finding] = lint_learning_review(review(root_cause="Pool exhaustion on the primary database."))
    assert (finding.code, finding.severity) == (LintCode.ROOT_CAUSE_FORMAT, "warning")
    assert "The incident was caused by" in finding.message
    assert "Pool exhaustion on the primary" in finding.message
    assert lint_learning_review(review(root_cause="  the incident was caused by a bad TTL.")) == []


def test_a_missing_root_cause_is_a_format_warning() -> None:
    [finding] = lint_learning_review(review(root_cause=""))
    assert (finding.code, finding.severity) == (LintCode.ROOT_CAUSE_FORMAT, "warning")
    assert blocking_findings([finding]) == []


# --- changes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        (Change(text="Add pool alert"), "no owner and no date"),
        (Change(text="Add pool alert", owner="SRE lead"), "no date"),
        (Change(text="Add pool alert", due="2026-12-01"), "no owner"),
        (Change(text="Add pool alert", owner="  ", due="2026-12-01"), "no owner"),
    ],
)
def test_every_change_needs_an_owner_and_a_date(change: Change, missing: str) -> None:
    [finding] = lint_learning_review(review(changes=[change]))
    assert (finding.code, finding.severity, finding.section, finding.ref) == (
        LintCode.CHANGE_MISSING_OWNER_OR_DATE,
        "error",
        "changes",
        "0",
    )
    assert f'"Add pool alert" has {missing}:' in finding.message


# --- learning statements ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        ("We need to communicate better.", '"communicate better"'),
        ("Everyone should be more careful next time.", '"be more careful"'),
        ("Improve monitoring of the checkout service.", '"improve monitoring"'),
        ("Pay more attention during deploys.", '"pay more attention"'),
        ("Follow the process.", '"follow the process"'),
        ("Things went wrong and we learned a lot.", "names no system, no owner and no date"),
    ],
)
def test_vague_learning_statements_are_warned(statement: str, why: str) -> None:
    [finding] = lint_learning_review(review(statements=[statement]))
    assert (finding.code, finding.severity, finding.section) == (
        LintCode.VAGUE_LEARNING_STATEMENT,
        "warning",
        "learning_statements",
    )
    assert why in finding.message
    assert f'"{statement}"' in finding.message


@pytest.mark.parametrize(
    "statement",
    [
        # The seed's own examples of specific, named, actionable statements.
        "Runbook step 4 does not account for the case where the primary DB is unreachable. SRE lead updating by [date].",
        "Vendor escalation contact was missing from the run card. Service Manager adding before next quarter.",
        "Recovery track for Application team took 40 minutes to start — no pre-assigned track lead. "
        "Run card updated with named standby.",
        "The checkout-api timeout is 30 s; Payments team lowering it by 2026-12-15.",
    ],
)
def test_specific_learning_statements_pass(statement: str) -> None:
    assert vague_reason(statement) is None


# --- action items, vendors --------------------------------------------------------------------


def test_open_action_items_need_an_owner_and_a_due_date() -> None:
    extra = [
        event("actionitem.created", 300, {"item_id": "AI-1", "title": "Tune pool"}),
        event("actionitem.created", 301, {"item_id": "AI-2", "title": "Add alert", "owner": "SRE lead"}),
        event("actionitem.created", 302, {"item_id": "AI-3", "title": "Fix DNS", "due": "2026-12-01"}),
        event("actionitem.created", 303, {"item_id": "AI-4", "title": "Done already"}),
        event("actionitem.completed", 400, {"item_id": "AI-4"}),
    ]
    findings = lint_learning_review(review(extra=extra))
    assert [(f.code.value, f.ref) for f in findings] == [
        ("action_item_missing_owner", "AI-1"),
        ("action_item_missing_due", "AI-1"),
        ("action_item_missing_due", "AI-2"),
        ("action_item_missing_owner", "AI-3"),
    ]
    assert all(f.severity == "error" and f.section == "action_items" for f in findings)
    assert '"Tune pool"' in findings[0].message


def test_an_update_that_adds_the_owner_and_date_clears_the_finding() -> None:
    extra = [
        event("actionitem.created", 300, {"item_id": "AI-1", "title": "Tune pool"}),
        event("actionitem.updated", 310, {"item_id": "AI-1", "owner": "DB team", "due": "2026-12-01"}),
    ]
    assert lint_learning_review(review(extra=extra)) == []


@pytest.mark.parametrize(
    ("vendor_events", "flagged"),
    [
        ([], True),
        ([event("vendor.rca_committed", 200, {"vendor": "Acme", "due": "2026-11-27T12:00:00Z"})], False),
        ([event("vendor.rca_received", 900, {"vendor": "acme"})], False),
        ([event("vendor.rca_committed", 200, {"vendor": "Other", "due": "2026-11-27T12:00:00Z"})], True),
    ],
)
def test_an_engaged_vendor_needs_a_committed_rca_date(vendor_events: list[CloudEvent], flagged: bool) -> None:
    extra = [event("vendor.engaged", 10, {"vendor": "Acme", "response_sla_minutes": 30}), *vendor_events]
    findings = [
        f for f in lint_learning_review(review(extra=extra)) if f.code is LintCode.VENDOR_ITEM_WITHOUT_DATE
    ]
    assert [(f.severity, f.section, f.ref) for f in findings] == (
        [("error", "vendors", "Acme")] if flagged else []
    )
    if flagged:
        assert "waiting on them" in findings[0].message


def test_a_vendor_never_engaged_is_not_chased() -> None:
    extra = [event("vendor.responded", 10, {"vendor": "Acme"})]
    assert lint_learning_review(review(extra=extra)) == []


# --- blocking ---------------------------------------------------------------------------------


def test_only_errors_block_publication() -> None:
    messy = review(
        root_cause="Dana forgot the pool.",
        statements=["Be more careful."],
        changes=[Change(text="Something")],
    )
    assert codes(messy.lint) == [
        "name_in_root_cause",
        "root_cause_format",
        "change_missing_owner_or_date",
        "vague_learning_statement",
    ]
    assert codes(blocking_findings(messy.lint)) == ["name_in_root_cause", "change_missing_owner_or_date"]
    assert messy.model_dump(mode="json")["lint"][0] == {
        "code": "name_in_root_cause",
        "severity": "error",
        "section": "root_cause",
        "message": messy.lint[0].message,
        "ref": "text",
    }


# --- a long critical incident without a Major Technical Meeting ---------------------------------


def declared_and_resolved(severity: str, resolved_after_minutes: float) -> list[CloudEvent]:
    return [
        event("incident.declared", 14, {"title": "Checkout latency", "severity": severity}),
        event("incident.resolved", 14 + resolved_after_minutes),
    ]


def test_a_critical_incident_resolved_after_2_h_without_an_mtm_is_a_finding() -> None:
    # The README's quick start: P1 declared 09:14, resolved 11:29 — no MTM suggestion was sent
    # (it would have been stale); the review is where the missing MTM shows.
    found = review(extra=declared_and_resolved("P1", 135)).lint
    assert codes(found) == ["critical_without_mtm"]
    assert found[0].severity == "warning" and found[0].section == "timeline"
    assert found[0].message.startswith("Critical incident over 2 h without an MTM: resolved 2.2 h after")


@pytest.mark.parametrize(
    ("severity", "minutes", "mtm_at"),
    [
        ("critical", 120, None),  # exactly 2 h: not over
        ("high", 300, None),  # not critical
        ("critical", 300, 150),  # an MTM held before the resolution
    ],
)
def test_no_mtm_finding_when_the_process_did_not_call_for_one_or_it_was_held(
    severity: str, minutes: float, mtm_at: float | None
) -> None:
    extra = declared_and_resolved(severity, minutes)
    if mtm_at is not None:
        extra.append(event("mtm.held", mtm_at, {"notes": "aligned on failover"}))
    assert "critical_without_mtm" not in codes(review(extra=extra).lint)
