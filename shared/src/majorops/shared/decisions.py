"""Policy's output: the After Action decision per incident (CONTRACT §3)."""

from __future__ import annotations

from datetime import UTC, datetime
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
    model_config = ConfigDict(frozen=True)

    rule: str
    text: str


class Deadlines(BaseModel):
    model_config = ConfigDict(frozen=True)

    schedule_by: UtcTime | None = None
    hold_by: UtcTime | None = None
    draft_due: UtcTime | None = None
    publish_by: UtcTime | None = None
    action_review_at: UtcTime | None = None


class EarlierOpenActionItem(BaseModel):
    """An action item of an earlier incident with the same root cause, still open.

    A repeat incident's decision lists these: repetition means a prior learning was not
    implemented, and these are the items that were meant to implement it.
    """

    model_config = ConfigDict(frozen=True)

    incident_id: str
    item_id: str
    title: str
    owner: str | None = None
    due: str | None = None


class AfterActionDecision(BaseModel):
    """Published to ``majorops.decisions.<incident_id>`` whenever it changes.

    Beyond the contract's fields it carries the facts reminders needs (declared/resolved times) so
    that no consumer re-derives policy's rules.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    incident_id: str
    revision: Annotated[int, Field(ge=1)]
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
