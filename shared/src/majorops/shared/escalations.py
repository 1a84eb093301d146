"""Reminders' output: escalations of unmet After Action obligations (CONTRACT §4)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from majorops.shared.decisions import UtcTime


class ObligationKind(StrEnum):
    AFTER_ACTION_NOT_SCHEDULED = "after_action_not_scheduled"
    AFTER_ACTION_NOT_HELD = "after_action_not_held"
    DRAFT_NOT_DISTRIBUTED = "draft_not_distributed"
    REVIEW_NOT_PUBLISHED = "review_not_published"
    ACTION_ITEMS_OPEN_AT_REVIEW = "action_items_open_at_review"
    ACTION_ITEM_OVERDUE = "action_item_overdue"
    VENDOR_RCA_NOT_COMMITTED = "vendor_rca_not_committed"
    VENDOR_RCA_OVERDUE = "vendor_rca_overdue"
    AFTER_ACTION_RESCHEDULED_REPEATEDLY = "after_action_rescheduled_repeatedly"
    MTM_RECOMMENDED = "mtm_recommended"


PER_ITEM_KINDS = frozenset(
    {
        ObligationKind.ACTION_ITEM_OVERDUE,
        ObligationKind.VENDOR_RCA_NOT_COMMITTED,
        ObligationKind.VENDOR_RCA_OVERDUE,
    }
)
SINGLE_LEVEL_KINDS = frozenset(
    {ObligationKind.AFTER_ACTION_RESCHEDULED_REPEATEDLY, ObligationKind.MTM_RECOMMENDED}
)
LEVEL_ROLES = {1: "mim", 2: "service_manager", 3: "engineering_director"}
MTM_RECOMMENDED_AFTER = timedelta(hours=2)
"""A critical incident still unresolved this long after its declaration calls for a Major Technical
Meeting: reminders suggests one while the incident runs, the review notes it when none was held."""


def escalation_id(incident_id: str, kind: str, level: int, item: str | None = None) -> str:
    """``<incident_id>:<kind>[:<item>]:<level>`` — the id every escalation is published under once."""
    parts = [incident_id, kind] + ([item] if item is not None else []) + [str(level)]
    return ":".join(parts)


class Notify(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str
    person: str | None = None


class Escalation(BaseModel):
    """Published to ``majorops.escalations.<incident_id>.<kind>`` with ``Nats-Msg-Id`` = id.

    Beyond CONTRACT §4: ``late`` is true when the level fired more than one escalation interval
    after it fell due (history that arrived late, a service that was down); ``superseded_by`` is the
    id of a higher level of the same obligation that fell due by the same moment (a person needs
    only that one); ``met_at`` is set when the record already shows the obligation met when the
    level fired (it was met after the level's time): the escalation is kept for the record, and
    nobody needs to act on it. The subjects keep every level; person-facing notifiers read these
    three fields to send one notification per obligation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    escalation_id: str
    incident_id: str
    kind: ObligationKind
    level: Annotated[int, Field(ge=1, le=3)]
    due_at: UtcTime
    fired_at: UtcTime
    notify: Notify
    message: str
    item: str | None = None
    late: bool = False
    superseded_by: str | None = None
    met_at: UtcTime | None = None

    @property
    def obligation_key(self) -> str:
        """``<incident_id>:<kind>[:<item>]``: the escalation id without its level."""
        return self.escalation_id.rsplit(":", 1)[0]


class HeadsUp(BaseModel):
    """A reminder before a deadline, published to ``majorops.reminders.<incident_id>.<deadline>``.

    ``deadline`` is ``hold_by``, ``draft_due``, ``publish_by`` or ``action_item_due``; published
    once per ``reminder_id`` (``Nats-Msg-Id``), and only while the obligation is still unmet.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reminder_id: str
    incident_id: str
    deadline: str
    kind: ObligationKind
    item: str | None = None
    due_at: UtcTime
    remind_at: UtcTime
    sent_at: UtcTime
    notify: Notify
    message: str
