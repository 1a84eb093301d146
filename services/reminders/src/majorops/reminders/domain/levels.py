"""When an unmet obligation escalates, and to whom (CONTRACT §4 "Escalation levels").

Level 1 at the due time, level 2 one interval later, level 3 two intervals later (the single-level
kinds have level 1 only). Time is event time: a level fires if and only if no event meeting the
obligation has a time at or before the level's time — whatever the clock said when the events
arrived. So an After Action scheduled 30 h after close (24 h interval) fires level 1 of
``after_action_not_scheduled`` and never levels 2 or 3, live or replayed in one burst. A level whose
time has passed when the obligation becomes known fires at once.

The one exception is a time-bound suggestion (``mtm_recommended``): it is sent only while the record
does not show the incident resolved, because it is advice for the incident in progress; see
:attr:`~majorops.reminders.domain.obligations.Obligation.expired`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from majorops.reminders.domain.obligations import Obligation
from majorops.shared.escalations import LEVEL_ROLES, SINGLE_LEVEL_KINDS, escalation_id


class EscalationLevel(IntEnum):
    """The escalation levels, named after who each one notifies."""

    MIM = 1
    SERVICE_MANAGER = 2
    ENGINEERING_DIRECTOR = 3

    @property
    def role(self) -> str:
        """The role this level notifies (``mim``, ``service_manager``, ``engineering_director``)."""
        return LEVEL_ROLES[self.value]


@dataclass(frozen=True, slots=True)
class PlannedEscalation:
    """One level of one obligation, at its time; it fires unless the obligation is met by then."""

    obligation: Obligation
    level: EscalationLevel
    at: datetime

    @property
    def escalation_id(self) -> str:
        """``<incident>:<kind>[:<item>]:<level>``: the id it is published under, exactly once."""
        o = self.obligation
        return escalation_id(o.incident_id, o.kind.value, int(self.level), o.item)

    @property
    def fires(self) -> bool:
        """True when no event meeting the obligation has a time at or before this level's time
        (and, for a time-bound suggestion, while the record does not show it met at all)."""
        return not self.obligation.met_by(self.at) and not self.obligation.expired


def _check_interval(interval: timedelta) -> None:
    if interval <= timedelta(0):
        raise ValueError(f"escalation interval must be positive, got {interval}")


def plan_levels(obligation: Obligation, interval: timedelta) -> list[PlannedEscalation]:
    """Every level of an obligation with its time, whether or not it will fire."""
    _check_interval(interval)
    levels = [EscalationLevel.MIM] if obligation.kind in SINGLE_LEVEL_KINDS else list(EscalationLevel)
    return [
        PlannedEscalation(obligation, level, obligation.due_at + (level - 1) * interval) for level in levels
    ]


def _order(planned: PlannedEscalation) -> tuple[datetime, str, str, str, int]:
    o = planned.obligation
    return (planned.at, o.incident_id, o.kind.value, o.item or "", int(planned.level))


def levels_due(
    obligations: Iterable[Obligation], now: datetime, interval: timedelta
) -> list[PlannedEscalation]:
    """The levels that fire by ``now``: their time is at or before ``now`` and the obligation was
    not met by their time. Sorted by time; the caller publishes each id once (a level already
    published stays published, even if a backdated meeting event arrives later)."""
    return sorted(
        (
            planned
            for obligation in obligations
            for planned in plan_levels(obligation, interval)
            if planned.at <= now and planned.fires
        ),
        key=_order,
    )


def next_wakeup(obligations: Iterable[Obligation], now: datetime, interval: timedelta) -> datetime | None:
    """The earliest level time after ``now`` that would fire on the events known so far, or ``None``.

    A scheduler sleeps until then (or until new events or a new decision arrive, which may change
    the plan). Levels already met by their time are never woken for.
    """
    upcoming = [
        planned.at
        for obligation in obligations
        for planned in plan_levels(obligation, interval)
        if planned.at > now and planned.fires
    ]
    return min(upcoming) if upcoming else None
