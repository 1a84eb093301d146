"""What the scheduler does with one incident at one moment: the notices to send now, and when to look again.

Pure (no I/O): from the incident's record, its latest decision, the ids already sent (claimed in the
outbox) and the time, :func:`plan_incident` gives

- the escalations (CONTRACT §4) and heads-up reminders that are due and not sent yet, as
  :class:`Notice` s ready to publish (subject, exact bytes, ``Nats-Msg-Id``);
- every obligation with the next moment something of it may fire (``next_fire_at``), and the
  earliest of those for the incident: the scheduler sleeps until then.

A level or heads-up met by its time (event time) is never due and never waited for; one already sent
is never sent again, even if a backdated meeting event arrives later ("a level already published
stays published").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from majorops.reminders.domain.escalation import build_escalation
from majorops.reminders.domain.heads_up import HEADS_UP_LEAD, build_heads_up, plan_heads_ups, reminders_due
from majorops.reminders.domain.levels import PlannedEscalation, levels_due, plan_levels
from majorops.reminders.domain.obligations import Obligation, obligations_of
from majorops.reminders.domain.record import IncidentRecord
from majorops.shared import subjects
from majorops.shared.decisions import AfterActionDecision, format_utc


class NoticeCategory(StrEnum):
    ESCALATION = "escalation"
    HEADS_UP = "heads_up"


@dataclass(frozen=True, slots=True)
class Notice:
    """One escalation or heads-up, published exactly once under :attr:`notice_id` (= ``Nats-Msg-Id``).

    The payload is built once, when the notice is claimed, and stored with the claim: a notice
    published again after a crash carries the very same bytes (same ``fired_at``).
    """

    notice_id: str
    incident_id: str
    category: NoticeCategory
    subject: str
    payload: bytes
    due_at: datetime
    """When it was due to be sent: the level's time (due + (level − 1) × interval) or the heads-up's."""


@dataclass(frozen=True, slots=True)
class ObligationStatus:
    """One obligation as the store keeps it: what it is, and when something of it may fire next."""

    kind: str
    item: str | None
    due_at: datetime
    met_at: datetime | None
    next_fire_at: datetime | None
    """The earliest level or heads-up of it not sent yet that fires on the events known so far."""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "item": self.item,
            "due_at": format_utc(self.due_at),
            "met_at": format_utc(self.met_at) if self.met_at else None,
            "next_fire_at": format_utc(self.next_fire_at) if self.next_fire_at else None,
        }


@dataclass(frozen=True, slots=True)
class IncidentPlan:
    incident_id: str
    notices: tuple[Notice, ...]
    """Due now and not sent yet, in time order."""
    obligations: tuple[ObligationStatus, ...]
    next_fire_at: datetime | None
    """When to look at the incident again once :attr:`notices` are sent; ``None``: nothing left."""

    @property
    def waiting_since(self) -> datetime | None:
        """The due time of the oldest notice not sent yet: where the incident stays while it waits."""
        return min((n.due_at for n in self.notices), default=None)

    @property
    def pending(self) -> int:
        """How many obligations still have a level or heads-up to send."""
        return sum(1 for o in self.obligations if o.next_fire_at is not None)

    def obligations_json(self) -> str:
        return json.dumps([o.as_json() for o in self.obligations], separators=(",", ":"))


def plan_incident(
    record: IncidentRecord,
    decision: AfterActionDecision | None,
    *,
    sent: Set[str],
    now: datetime,
    interval: timedelta,
    lead: timedelta = HEADS_UP_LEAD,
) -> IncidentPlan:
    """The notices due at ``now`` that are not in ``sent``, and when to look again."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    obligations = obligations_of(record, decision)
    notices = list(_escalations_due(record, obligations, sent, now, interval))
    notices.extend(_heads_ups_due(record, obligations, sent, now, lead))
    notices.sort(key=lambda n: (n.due_at, n.notice_id))
    done = set(sent) | {n.notice_id for n in notices}
    statuses = tuple(
        ObligationStatus(
            kind=o.kind.value,
            item=o.item,
            due_at=o.due_at,
            met_at=o.met_at,
            next_fire_at=_next_fire(o, done, now, interval, lead),
        )
        for o in obligations
    )
    return IncidentPlan(
        incident_id=record.incident_id,
        notices=tuple(notices),
        obligations=statuses,
        next_fire_at=min((s.next_fire_at for s in statuses if s.next_fire_at is not None), default=None),
    )


def _escalations_due(
    record: IncidentRecord, obligations: list[Obligation], sent: Set[str], now: datetime, interval: timedelta
) -> Iterable[Notice]:
    due = levels_due(obligations, now, interval)
    # The highest level of each obligation due by now: a lower one fired with it is superseded, so
    # that a person is notified once, at the level the obligation has reached (a late burst).
    highest: dict[tuple[str, str | None], PlannedEscalation] = {}
    for planned in due:
        key = (planned.obligation.kind.value, planned.obligation.item)
        if key not in highest or planned.level > highest[key].level:
            highest[key] = planned
    for planned in due:
        if planned.escalation_id in sent:
            continue
        top = highest[(planned.obligation.kind.value, planned.obligation.item)]
        escalation = build_escalation(
            planned,
            fired_at=now,
            people=record.people,
            late_after=interval,
            superseded_by=top.escalation_id if top.level > planned.level else None,
        )
        yield Notice(
            notice_id=escalation.escalation_id,
            incident_id=record.incident_id,
            category=NoticeCategory.ESCALATION,
            subject=subjects.escalation_subject(record.incident_id, escalation.kind.value),
            payload=escalation.model_dump_json().encode(),
            due_at=planned.at,
        )


def _heads_ups_due(
    record: IncidentRecord, obligations: list[Obligation], sent: Set[str], now: datetime, lead: timedelta
) -> Iterable[Notice]:
    for planned in reminders_due(obligations, now, lead):
        if planned.reminder_id in sent:
            continue
        heads_up = build_heads_up(planned, sent_at=now, people=record.people)
        yield Notice(
            notice_id=heads_up.reminder_id,
            incident_id=record.incident_id,
            category=NoticeCategory.HEADS_UP,
            subject=subjects.reminder_subject(record.incident_id, planned.deadline),
            payload=heads_up.model_dump_json().encode(),
            due_at=planned.at,
        )


def _next_fire(
    obligation: Obligation, done: Set[str], now: datetime, interval: timedelta, lead: timedelta
) -> datetime | None:
    times = [p.at for p in plan_levels(obligation, interval) if p.fires and p.escalation_id not in done]
    if now < obligation.due_at:
        # A heads-up is only worth sending before its deadline, and only while the obligation is open.
        times.extend(
            h.at
            for h in plan_heads_ups([obligation], lead)
            if h.reminder_id not in done and not obligation.met_by(max(h.at, now))
        )
    return min(times, default=None)
