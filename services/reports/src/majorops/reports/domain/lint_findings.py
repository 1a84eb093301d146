"""Lint findings of the Learning Review: the codes, how serious each is, and what blocks publication.

The rules that find them are in :mod:`majorops.reports.domain.lint`; the review document carries
the findings (:class:`LintFinding`), so they live apart from the rules that read the document.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class LintCode(StrEnum):
    NAME_IN_ROOT_CAUSE = "name_in_root_cause"
    ROOT_CAUSE_FORMAT = "root_cause_format"
    CHANGE_MISSING_OWNER_OR_DATE = "change_missing_owner_or_date"
    VAGUE_LEARNING_STATEMENT = "vague_learning_statement"
    ACTION_ITEM_MISSING_OWNER = "action_item_missing_owner"
    ACTION_ITEM_MISSING_DUE = "action_item_missing_due"
    VENDOR_ITEM_WITHOUT_DATE = "vendor_item_without_date"
    CRITICAL_WITHOUT_MTM = "critical_without_mtm"


LintSeverity = Literal["error", "warning"]

SEVERITY: dict[LintCode, LintSeverity] = {
    LintCode.NAME_IN_ROOT_CAUSE: "error",
    LintCode.ROOT_CAUSE_FORMAT: "warning",
    LintCode.CHANGE_MISSING_OWNER_OR_DATE: "error",
    LintCode.VAGUE_LEARNING_STATEMENT: "warning",
    LintCode.ACTION_ITEM_MISSING_OWNER: "error",
    LintCode.ACTION_ITEM_MISSING_DUE: "error",
    LintCode.VENDOR_ITEM_WITHOUT_DATE: "error",
    LintCode.CRITICAL_WITHOUT_MTM: "warning",
}


class LintFinding(BaseModel):
    """One finding: what rule, how serious, where (``section`` and ``ref`` inside it) and how to fix it."""

    model_config = ConfigDict(frozen=True)

    code: LintCode
    severity: LintSeverity
    section: str
    message: str
    ref: str | None = None
    """Which entry of the section: ``text``, ``contributing_factors[1]``, an item id, a vendor."""


def blocking_findings(findings: Iterable[LintFinding]) -> list[LintFinding]:
    """The findings that block publication: every error."""
    return [finding for finding in findings if finding.severity == "error"]
