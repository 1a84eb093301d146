"""What the system must have produced, computed by the pure domain from the events it holds.

Policy's domain folds each incident's events into facts, finds repeats across incidents and derives
the decision; reminders' domain reads the record, derives the obligations from it and the decision,
and plans each level. Nothing here is hard-coded: the same functions the services run, applied to
the whole set of accepted events at once — the contract's own promise ("every result depends only
on the set of events of an incident, never on their arrival order").

An escalation the final record does not call for is not always wrong: the record grows, and "a level
already published stays published". :func:`justified_when_fired` asks whether the escalation was
called for by the events JetStream held when reminders fired it: that is what reminders can know
(it waits until it has stored every event and decision JetStream holds for the incident, then
re-derives the plan) — and exactly what it must not get wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.decision import derive_decision, open_items_of
from majorops.policy.domain.facts import fold_facts
from majorops.policy.domain.repeats import RootCauseSighting, find_repeat_of
from majorops.reminders.domain.levels import PlannedEscalation, plan_levels
from majorops.reminders.domain.obligations import obligations_of
from majorops.reminders.domain.record import read_record
from majorops.shared.decisions import DecisionContent
from majorops.shared.events import CloudEvent, EventType


@dataclass(frozen=True)
class HeldEvent:
    """An event as JetStream holds it: the envelope, its stream sequence and when it was stored."""

    event: CloudEvent
    seq: int
    stored_at: datetime


@dataclass
class Expectation:
    """The domain's answer for a set of events, at a moment."""

    decisions: dict[str, DecisionContent]
    firing: dict[str, PlannedEscalation]
    """Every level due by the moment that fires (no event meeting it by its time), by escalation id."""
    planned: dict[str, PlannedEscalation]
    """Every level of every obligation, whether or not it fires or is due."""


def expect(
    events: Mapping[str, Sequence[CloudEvent]],
    now: datetime,
    interval: timedelta,
    calendar: BusinessCalendar,
    *,
    only: Iterable[str] | None = None,
    with_earlier_items: bool = True,
) -> Expectation:
    """Decisions and escalations of the incidents (``only`` some of them, if given) from ``events``
    (every incident's, needed for repeats), with the levels due by ``now``."""
    facts = {incident: fold_facts(evs, incident) for incident, evs in events.items() if evs}
    sightings = [s for s in (RootCauseSighting.of(f) for f in facts.values()) if s is not None]
    out = Expectation({}, {}, {})
    for incident in sorted(set(only) if only is not None else facts):
        if incident not in facts:
            continue
        sighting = RootCauseSighting.of(facts[incident])
        repeat_of = find_repeat_of(sighting, sightings)
        earlier = (
            [item for other in repeat_of for item in open_items_of(facts[other])]
            if with_earlier_items
            else []
        )
        content = derive_decision(facts[incident], repeat_of, calendar, earlier)
        out.decisions[incident] = content
        record = read_record(incident, events[incident])
        for obligation in obligations_of(record, content.with_revision(1)):
            for planned in plan_levels(obligation, interval):
                out.planned[planned.escalation_id] = planned
                if planned.at <= now and planned.fires:
                    out.firing[planned.escalation_id] = planned
    return out


@dataclass(frozen=True)
class Verdict:
    justified: bool
    why: str


def called_for(
    escalation_id: str,
    incident: str,
    known_at: datetime,
    due_by: datetime,
    held: Mapping[str, Sequence[HeldEvent]],
    interval: timedelta,
    calendar: BusinessCalendar,
) -> bool:
    """Whether the events JetStream held at ``known_at`` call for the escalation by ``due_by``."""
    # Other incidents matter only through their root causes (policy's fingerprint index: repeats).
    known = {
        other: [
            h.event for h in evs if h.stored_at <= known_at and h.event.type == EventType.ROOTCAUSE_IDENTIFIED
        ]
        for other, evs in held.items()
        if other != incident
    }
    known[incident] = [h.event for h in held.get(incident, []) if h.stored_at <= known_at]
    answer = expect(known, due_by, interval, calendar, only=[incident], with_earlier_items=False)
    return escalation_id in answer.firing


def justified_when_fired(
    escalation_id: str,
    incident: str,
    fired_at: datetime,
    held: Mapping[str, Sequence[HeldEvent]],
    interval: timedelta,
    calendar: BusinessCalendar,
    margin: timedelta,
    final: Expectation,
) -> Verdict:
    """Whether the events JetStream held when the escalation fired call for it.

    Reminders checks that its record is complete a moment before it fires (``margin`` covers that
    moment): the escalation is justified if it is called for by what JetStream held at any instant
    of ``[fired_at - margin, fired_at]``. Otherwise the reason says which event it ignored.
    """
    mine = held.get(incident, [])
    cuts = {fired_at - margin, fired_at}
    cuts.update(h.stored_at for h in mine if fired_at - margin < h.stored_at <= fired_at)
    for cut in sorted(cuts):
        if called_for(escalation_id, incident, cut, fired_at, held, interval, calendar):
            return Verdict(True, "called for by the events JetStream held when it fired")
    planned = final.planned.get(escalation_id)
    if planned is None:
        return Verdict(False, "no such obligation or level in the record, then or now")
    obligation = planned.obligation
    if planned.at > fired_at:
        return Verdict(False, f"fired at {fired_at.isoformat()} before its time {planned.at.isoformat()}")
    if obligation.met_at is not None and obligation.met_at <= planned.at:
        meeting = [h for h in mine if h.event.occurred_at == obligation.met_at]
        stored = min((h.stored_at for h in meeting), default=None)
        return Verdict(
            False,
            f"met in time (event time {obligation.met_at.isoformat()} <= level time {planned.at.isoformat()}), "
            f"and the meeting event was stored {stored.isoformat() if stored else '?'}, before it fired at "
            f"{fired_at.isoformat()}",
        )
    return Verdict(False, "not called for by the events JetStream held when it fired (a stale decision?)")


def met_in_time(escalation_id: str, final: Expectation) -> bool:
    """Whether the final record shows the level's obligation met at or before the level's time."""
    planned = final.planned.get(escalation_id)
    if planned is None:
        return False
    met = planned.obligation.met_at
    return met is not None and met <= planned.at
