"""Policy's output: the After Action decision per incident (CONTRACT §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from majorops.shared.events import Severity


def format_utc(value: datetime) -> str:
    """RFC 3339 in UTC with the ``Z`` suffix, as every output time of the contract."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcTime = Annotated[datetime, PlainSerializer(format_utc, return_type=str, when_used="json")]


class Requirement(StrEnum):
    MANDATORY = "mandatory"
    RECOMMENDED = "recommended"
    OPTIONAL = "optional"
    NOT_REQUIRED = "not_required"


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    text: str


ACTION_ITEM_REVIEW_AFTER_PUBLICATION = timedelta(days=30)
"""The action-item review, 30 days after publication: the process's "Action item completion reviewed
— 30 days after publication" and "Unresolved items at the 30-day review are escalated". Its due time
is the decision's ``action_review_at`` (the Learning Review's publication + 30 calendar days); the
items still open then escalate as ``action_items_open_at_review``.

Not to be confused with the ineffective-fix window of reports (an alert firing again within 30 days
of an action item's completion), which counts from each completion, not from publication."""


# The After Action timeline of the process, as due times (each ``None`` until the event it hangs on
# exists). No class docstring: it would become the schema's description in the committed contract.
class Deadlines(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schedule_by: UtcTime | None = None
    """After Action scheduled: within 24 hours of incident close."""
    hold_by: UtcTime | None = None
    """After Action held: within 5 business days (critical), 10 (otherwise) of close."""
    draft_due: UtcTime | None = None
    """Learning Review draft distributed: 48 hours before the meeting."""
    publish_by: UtcTime | None = None
    """Learning Review published: within 48 hours of the meeting."""
    action_review_at: UtcTime | None = None
    """The action-item review (action item completion reviewed): 30 days after publication
    (:data:`ACTION_ITEM_REVIEW_AFTER_PUBLICATION`)."""


class EarlierOpenActionItem(BaseModel):
    """An action item of an earlier incident with the same root cause, still open.

    A repeat incident's decision lists these: repetition means a prior learning was not
    implemented, and these are the items that were meant to implement it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    incident_id: str
    item_id: str
    title: str
    owner: str | None = None
    due: str | None = None


class _OfIncident(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    incident_id: str


class DecisionContent(_OfIncident):
    """A decision without its ``revision``: policy publishes a new revision exactly when the content
    changes, so content equality is what "changed" means.

    Beyond the contract's fields it carries the facts reminders needs (declared/resolved times), so
    that no consumer re-derives policy's rules, and, for a repeat incident, the earlier incidents'
    action items still open: the learning that was not implemented, which is why a repeat needs an
    After Action at all.
    """

    requirement: Requirement
    reasons: list[Reason] = Field(default_factory=list)
    severity: Severity | None = None
    duration_seconds: int | None = None
    customer_impact: bool = False
    repeat_of: list[str] = Field(default_factory=list)
    closed_at: UtcTime | None = None
    deadlines: Deadlines = Field(default_factory=Deadlines)
    declared_at: UtcTime | None = None
    resolved_at: UtcTime | None = None
    repeat_open_action_items: list[EarlierOpenActionItem] = Field(default_factory=list)
    """For a repeat: the earlier incidents' action items still open, sorted by incident and item."""

    def with_revision(self, revision: int) -> AfterActionDecision:
        """The decision as published, at that revision."""
        return AfterActionDecision.model_validate({**self.model_dump(), "revision": revision})

    @classmethod
    def of_decision(cls, decision: AfterActionDecision) -> DecisionContent:
        """The content of a published decision (e.g. the last one stored), to compare with a new one."""
        return cls.model_validate(decision.model_dump(exclude={"revision"}))


class _Revision(_OfIncident):
    revision: Annotated[int, Field(ge=1)]


# Fields are laid out base first (``_OfIncident``, ``_Revision``, then the content), so the published
# JSON and its schema read as the contract shows them: ``incident_id``, ``revision``, ``requirement``, …
class AfterActionDecision(DecisionContent, _Revision):
    """Published to ``majorops.decisions.<incident_id>`` whenever it changes.

    Beyond the contract's fields it carries the facts reminders needs (declared/resolved times) so
    that no consumer re-derives policy's rules.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
