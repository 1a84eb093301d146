"""The Learning Review document: the JSON shape of CONTRACT §5, section by section.

"The written output is the Learning Review." These are the document's models only; how they are
filled from the incident record is :mod:`majorops.reports.domain.learning_review`, and the rules
that lint the filled document are :mod:`majorops.reports.domain.lint`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from majorops.reports.domain.action_items import ActionItem
from majorops.reports.domain.attendees import Attendees
from majorops.reports.domain.data_gaps import DataGap
from majorops.reports.domain.follow_up import EarlierReview, EffectivenessFinding
from majorops.reports.domain.lint_findings import LintFinding
from majorops.reports.domain.metrics import Metrics
from majorops.reports.domain.timeline import ReviewStatus
from majorops.reports.domain.vendors import VendorRecord
from majorops.shared.decisions import Deadlines, Reason, Requirement, UtcTime
from majorops.shared.escalations import Notify
from majorops.shared.events import DueDate, Severity

# The OpenAPI schemas of what people send say exactly what the validators accept, so that a
# client (or a test generated from the schema) that follows the schema is never refused.
DueDateField = Annotated[
    DueDate,
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"format": "date-time"}, {"format": "date"}],
            "description": "RFC 3339 time with an offset, or a YYYY-MM-DD date (end of that day)",
        }
    ),
]
"""A due date as people send it: an RFC 3339 timestamp, or a plain date."""

_FROZEN = ConfigDict(frozen=True)


# --- the document ---------------------------------------------------------------------------


class Summary(BaseModel):
    """1. Incident Summary: what happened, how bad, who led it."""

    model_config = _FROZEN

    title: str | None = None
    severity: Severity | None = None
    """The highest severity the incident ever had, as policy judges it."""
    duration_seconds: int | None = None
    customer_impact: bool | None = None
    """``None`` when the record holds no customer impact data at all."""
    affected_users: int | None = None
    revenue_exposure: int | float | None = None
    sla_status: str | None = None
    regulatory_exposure: bool | None = None
    mim: str | None = None
    responders: list[str] = Field(default_factory=list)
    """Every person the record names as acting in the incident, in order of first appearance."""


class TimelineEntry(BaseModel):
    """2. Timeline: one event, timestamp and facts only."""

    model_config = _FROZEN

    at: UtcTime
    type: str
    text: str
    event_id: str


class AfterActionSection(BaseModel):
    """The After Action obligation (policy's decision) and where the meeting stands."""

    model_config = _FROZEN

    requirement: Requirement | None = None
    """``None`` until policy has decided."""
    reasons: list[Reason] = Field(default_factory=list)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    revision: int | None = None
    repeat_of: list[str] = Field(default_factory=list)
    meeting_at: UtcTime | None = None
    reschedules: int = 0
    draft_distributed_at: UtcTime | None = None
    held_at: UtcTime | None = None


class RootCause(BaseModel):
    """3. Root Cause: the technical finding and its contributing factors."""

    model_config = _FROZEN

    text: str | None = None
    fingerprint: str | None = None
    contributing_factors: list[str] = Field(default_factory=list)
    vendor_related: bool | None = None


class Change(BaseModel):
    """5. What We Are Changing: one specific change, with an owner and a date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    owner: str | None = None
    due: DueDateField | None = None


class EscalationEntry(BaseModel):
    """An escalation fired for the incident (CONTRACT §4), as the review lists it."""

    model_config = _FROZEN

    escalation_id: str
    kind: str
    level: int
    due_at: UtcTime
    fired_at: UtcTime
    item: str | None = None
    notify: Notify
    message: str
    late: bool = False
    """Fired more than one escalation interval after it fell due (history that arrived late)."""
    superseded_by: str | None = None
    """A higher level of the same obligation that fell due by the same moment (people got that one)."""


class Narrative(BaseModel):
    """The sections people write; each one set here replaces what the record says.

    ``None`` means "not edited": the section comes from the record (root cause summary and
    contributing factors of the latest ``rootcause.identified``; nothing for the others).
    """

    # An empty patch is refused ("needs at least one of …"); ``minProperties`` says so in the schema.
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"minProperties": 1})

    root_cause: str | None = None
    contributing_factors: list[str] | None = None
    went_well: list[str] | None = None
    changes: list[Change] | None = None
    learning_statements: list[str] | None = None


class LearningReview(BaseModel):
    """The Learning Review of one incident, in the JSON shape of CONTRACT §5."""

    model_config = _FROZEN

    incident_id: str
    status: ReviewStatus = ReviewStatus.DRAFT
    published_at: UtcTime | None = None
    summary: Summary = Field(default_factory=Summary)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    metrics: Metrics = Field(default_factory=Metrics)
    after_action: AfterActionSection = Field(default_factory=AfterActionSection)
    data_gaps: list[DataGap] = Field(default_factory=list)
    attendees: Attendees = Field(default_factory=Attendees)
    vendors: list[VendorRecord] = Field(default_factory=list)
    root_cause: RootCause = Field(default_factory=RootCause)
    went_well: list[str] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)
    learning_statements: list[str] = Field(default_factory=list)
    action_items: list[ActionItem] = Field(default_factory=list)
    escalations: list[EscalationEntry] = Field(default_factory=list)
    earlier_reviews: list[EarlierReview] = Field(default_factory=list)
    """For a repeat incident: the reviews of the earlier incidents with the same root cause."""
    effectiveness: list[EffectivenessFinding] = Field(default_factory=list)
    """After publication: completed action items whose alert fired again within the ineffective-fix
    window (30 days of the item's completion; see ``follow_up.INEFFECTIVE_FIX_WINDOW``)."""
    lint: list[LintFinding] = Field(default_factory=list)
