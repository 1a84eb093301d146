"""Heads-up reminders: a notice shortly *before* a deadline, so that escalations rarely happen.

Beyond the contract (which only escalates after a deadline), reminders sends one heads-up a lead
time (24 h by default) before each of these deadlines:

| deadline          | of obligation            | notifies                |
|-------------------|--------------------------|-------------------------|
| ``hold_by``         | ``after_action_not_held``  | the MIM                 |
| ``draft_due``       | ``draft_not_distributed``  | the MIM (owns the draft)|
| ``publish_by``      | ``review_not_published``   | the MIM                 |
| ``action_item_due`` | ``action_item_overdue``    | the action item's owner |

Each has the id ``<incident>:<deadline>:heads_up`` (``<incident>:action_item_due:<item>:heads_up``
per action item) and is published once per id to ``majorops.reminders.<incident>.<deadline>``. A
heads-up is advisory, so it is sent only while it is useful: from its time until the deadline, and
only if the obligation is not already met when it would be sent. A replay after the deadline sends
no stale heads-up (the escalation takes over from there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from majorops.reminders.domain.escalation import action_item_due_text, describe_span, format_moment
from majorops.reminders.domain.levels import EscalationLevel
from majorops.reminders.domain.obligations import Obligation
from majorops.shared.escalations import HeadsUp, Notify, ObligationKind
from majorops.shared.incident.order import role_key

HEADS_UP_LEAD = timedelta(hours=24)

HEADS_UP_DEADLINES: Mapping[ObligationKind, str] = {
    ObligationKind.AFTER_ACTION_NOT_HELD: "hold_by",
    ObligationKind.DRAFT_NOT_DISTRIBUTED: "draft_due",
    ObligationKind.REVIEW_NOT_PUBLISHED: "publish_by",
    ObligationKind.ACTION_ITEM_OVERDUE: "action_item_due",
}
"""Which obligations get a heads-up, under the name of their deadline."""

OWNER_ROLE = "action_item_owner"


@dataclass(frozen=True, slots=True)
class PlannedHeadsUp:
    """The heads-up of one obligation, at its time (the deadline minus the lead time)."""

    obligation: Obligation
    deadline: str
    at: datetime

    @property
    def reminder_id(self) -> str:
        """``<incident>:<deadline>[:<item>]:heads_up``: the id it is published under, once."""
        o = self.obligation
        parts = [o.incident_id, self.deadline] + ([o.item] if o.item is not None else []) + ["heads_up"]
        return ":".join(parts)


def _check_lead(lead: timedelta) -> None:
    if lead <= timedelta(0):
        raise ValueError(f"heads-up lead time must be positive, got {lead}")


def plan_heads_ups(
    obligations: Iterable[Obligation], lead: timedelta = HEADS_UP_LEAD
) -> list[PlannedHeadsUp]:
    """The heads-up of every obligation that has one, whether or not it will be sent."""
    _check_lead(lead)
    return [
        PlannedHeadsUp(o, HEADS_UP_DEADLINES[o.kind], o.due_at - lead)
        for o in obligations
        if o.kind in HEADS_UP_DEADLINES
    ]


def _order(planned: PlannedHeadsUp) -> tuple[datetime, str]:
    return (planned.at, planned.reminder_id)


def reminders_due(
    obligations: Iterable[Obligation], now: datetime, lead: timedelta = HEADS_UP_LEAD
) -> list[PlannedHeadsUp]:
    """The heads-ups to send at ``now``: their time has come, the deadline is still ahead, and the
    obligation is not met yet. Sorted by time; the caller sends each id once."""
    return sorted(
        (
            planned
            for planned in plan_heads_ups(obligations, lead)
            if planned.at <= now < planned.obligation.due_at and not planned.obligation.met_by(now)
        ),
        key=_order,
    )


def next_heads_up(
    obligations: Iterable[Obligation], now: datetime, lead: timedelta = HEADS_UP_LEAD
) -> datetime | None:
    """The earliest heads-up time after ``now`` still worth waking for, or ``None``."""
    upcoming = [
        planned.at
        for planned in plan_heads_ups(obligations, lead)
        if planned.at > now and not planned.obligation.met_by(planned.at)
    ]
    return min(upcoming) if upcoming else None


def heads_up_message(planned: PlannedHeadsUp, sent_at: datetime) -> str:
    """The sentence people read: what is due, when, and how long is left."""
    o = planned.obligation
    incident, due = o.incident_id, format_moment(o.due_at)
    left = describe_span(max(o.due_at - sent_at, timedelta(0)))
    match o.kind:
        case ObligationKind.AFTER_ACTION_NOT_HELD:
            return f"Heads-up: the After Action for {incident} must be held by {due} ({left} left)."
        case ObligationKind.DRAFT_NOT_DISTRIBUTED:
            return (
                f"Heads-up: the Learning Review draft for {incident} must be distributed by {due} "
                f"({left} left), so attendees read it before the After Action."
            )
        case ObligationKind.REVIEW_NOT_PUBLISHED:
            return f"Heads-up: the Learning Review for {incident} must be published by {due} ({left} left)."
        case ObligationKind.ACTION_ITEM_OVERDUE:
            item = o.action_item
            title = f' "{item.title}"' if item is not None and item.title else ""
            return (
                f"Heads-up: action item {o.item}{title} of {incident} is due "
                f"{action_item_due_text(item, o.due_at)} ({left} left)."
            )
    raise ValueError(f"no heads-up for obligation kind {o.kind!r}")  # pragma: no cover


def build_heads_up(
    planned: PlannedHeadsUp, *, sent_at: datetime, people: Mapping[str, str] | None = None
) -> HeadsUp:
    """The heads-up payload; ``people`` maps a role to its latest assignee, as for escalations."""
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    o = planned.obligation
    if o.kind == ObligationKind.ACTION_ITEM_OVERDUE:
        notify = Notify(role=OWNER_ROLE, person=o.action_item.owner if o.action_item else None)
    else:
        mim = EscalationLevel.MIM.role
        notify = Notify(role=mim, person=(people or {}).get(role_key(mim)))
    return HeadsUp(
        reminder_id=planned.reminder_id,
        incident_id=o.incident_id,
        deadline=planned.deadline,
        kind=o.kind,
        item=o.item,
        due_at=o.due_at,
        remind_at=planned.at,
        sent_at=sent_at.astimezone(UTC),
        notify=notify,
        message=heads_up_message(planned, sent_at),
    )
