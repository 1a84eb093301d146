"""Reminders use cases: record events and decisions, fire what is due, publish what is still pending.

- :func:`record_events` / :func:`record_decision` store messages and mark its incident as changed:
  the mark (a version bump that makes the incident due now) is what re-plans its obligations.
- :func:`fire_due` plans every due incident (re-derives its obligations from the stored record) and
  sends each escalation or heads-up that is due exactly once: claimed in the outbox first (a unique
  id: one replica wins), then published with ``Nats-Msg-Id`` = its id, then marked published.
- :func:`publish_pending` publishes again what was claimed but never confirmed (a crash, NATS
  down), after checking the stream, so a copy older than the duplicate window is not doubled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, timedelta, tzinfo

import structlog
from pydantic import ValidationError

from majorops.reminders.domain.heads_up import HEADS_UP_LEAD
from majorops.reminders.domain.record import read_record
from majorops.reminders.plan import IncidentPlan, Notice, plan_incident
from majorops.reminders.ports import (
    Clock,
    DueIncident,
    NoticePublisher,
    RecordFreshness,
    RemindersStore,
    StoredPlan,
    utc_now,
)
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.events import CloudEvent
from majorops.shared.outcomes import PoisonMessage, UnacknowledgedPublish, log_recorded, valid_events
from majorops.shared.storage.eventlog import StoredEvent

log = structlog.get_logger(__name__)


async def record_events(
    messages: Sequence[tuple[object, int]],
    store: RemindersStore,
    extra_types: frozenset[str] = frozenset(),
    clock: Clock = utc_now,
) -> list[BaseException | None]:
    """Validate a fetched batch of ``(envelope, arrival)``, store it in one write and mark each
    incident changed once. ``arrival`` is the JetStream stream sequence, stored with the event. A
    redelivered or republished event (same id) is not stored again, but still marks its incident.
    Per message ``None`` (done), a :class:`PoisonMessage` (an invalid envelope: retrying cannot make
    it valid), or the store's error (retried)."""
    outcomes, valid = valid_events(messages, extra_types)
    if valid:
        try:
            await _store_and_mark([(event, messages[index][1]) for index, event in valid], store, clock)
        except Exception as exc:
            for index, _ in valid:
                outcomes[index] = exc
    return outcomes


async def _store_and_mark(
    events: Sequence[tuple[CloudEvent, int]], store: RemindersStore, clock: Clock
) -> None:
    """Store valid ``(event, arrival)`` in one write and mark each incident changed once.

    A redelivered or republished event (same id) is not stored again, but still marks its incident
    (the mark may be what a crash lost)."""
    new_flags = await store.append_events(
        [StoredEvent.from_event(event, arrival) for event, arrival in events]
    )
    now = clock()
    for incident_id in dict.fromkeys(event.incident_id for event, _ in events):
        await store.mark_changed(incident_id, now)
    for (event, arrival), new in zip(events, new_flags, strict=True):
        log_recorded(log, event, arrival, new)


async def record_decision(raw_decision: object, store: RemindersStore, clock: Clock = utc_now) -> str:
    """Validate a decision from policy, keep it if it is the newest, mark its incident changed;
    return its incident id.

    An older or repeated revision is not kept, but still marks the incident (the mark may be what a
    crash lost). An invalid decision raises :class:`PoisonMessage`.
    """
    try:
        decision = AfterActionDecision.model_validate(raw_decision)
    except ValidationError as exc:
        raise PoisonMessage(f"invalid decision: {describe(exc)}") from exc
    with structlog.contextvars.bound_contextvars(incident_id=decision.incident_id):
        kept = await store.save_decision(decision)
        await store.mark_changed(decision.incident_id, clock())
        if kept:
            log.info("decision.recorded", revision=decision.revision, requirement=decision.requirement)
        else:
            log.info("decision.superseded", revision=decision.revision)
    return decision.incident_id


def describe(exc: ValidationError) -> str:
    """Every problem on one line, as ``field: why`` (pydantic's own text spans lines and links)."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(decision)"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """How this deployment escalates: the level spacing, the heads-up lead, the organisation's zone."""

    interval: timedelta
    timezone: tzinfo = UTC
    lead: timedelta = HEADS_UP_LEAD

    @property
    def settings_key(self) -> str:
        """Stored with each plan: a plan made under other settings is made again at start."""
        return (
            f"interval={self.interval.total_seconds()}s;lead={self.lead.total_seconds()}s;tz={self.timezone}"
        )


@dataclass
class PassOutcome:
    """What one scheduler pass did."""

    incidents: int = 0
    claimed: list[Notice] = field(default_factory=list)
    published: int = 0
    waiting: list[str] = field(default_factory=list)
    """Incidents with something due whose record is not complete yet: they are looked at again soon."""
    failed: list[str] = field(default_factory=list)
    publish_failed: bool = False


async def _plan(
    store: RemindersStore, incident_id: str, policy: EscalationPolicy, clock: Clock
) -> IncidentPlan:
    stored = await store.events_for(incident_id)
    decision = await store.latest_decision(incident_id)
    sent = await store.sent_notice_ids(incident_id)
    record = read_record(incident_id, [e.event() for e in stored], timezone=policy.timezone)
    return plan_incident(record, decision, sent=sent, now=clock(), interval=policy.interval, lead=policy.lead)


async def _plan_or_postpone(
    store: RemindersStore,
    due: DueIncident,
    policy: EscalationPolicy,
    clock: Clock,
    retry_after: timedelta,
    outcome: PassOutcome,
) -> IncidentPlan | None:
    """:func:`_plan` of a due incident; ``None`` when planning failed: then it is logged, counted as
    failed and looked at again ``retry_after`` later (one broken incident never stops the pass)."""
    try:
        return await _plan(store, due.incident_id, policy, clock)
    except Exception:
        log.exception("incident.plan_failed", incident_id=due.incident_id)
        outcome.failed.append(due.incident_id)
        await store.postpone(due.incident_id, due.version, clock() + retry_after)
        return None


def _stored(plan: IncidentPlan, due: DueIncident, policy: EscalationPolicy, clock: Clock) -> StoredPlan:
    return StoredPlan(
        incident_id=plan.incident_id,
        version=due.version,
        next_fire_at=plan.next_fire_at,
        obligations_json=plan.obligations_json(),
        pending=plan.pending,
        settings_key=policy.settings_key,
        planned_at=clock(),
    )


async def fire_due(
    store: RemindersStore,
    publisher: NoticePublisher,
    freshness: RecordFreshness,
    policy: EscalationPolicy,
    *,
    clock: Clock = utc_now,
    limit: int = 256,
    replica: str = "reminders",
    retry_after: timedelta = timedelta(seconds=30),
) -> PassOutcome:
    """One scheduler pass over the incidents due now: plan each, send what is due, store the plans.

    An incident with something to send is planned twice: once to find out, then — after checking that
    reminders has stored every event and decision JetStream holds for it — again from the latest
    record, right before claiming, so an obligation met in time (event time) never fires. An incident
    whose record is not complete yet keeps its due time and is looked at again shortly.
    """
    outcome = PassOutcome()
    due = await store.incidents_due(clock(), limit)
    outcome.incidents = len(due)
    plans: list[StoredPlan] = []
    to_send: list[DueIncident] = []
    for item in due:
        plan = await _plan_or_postpone(store, item, policy, clock, retry_after, outcome)
        if plan is None:
            continue
        if plan.notices:
            to_send.append(item)
        else:
            plans.append(_stored(plan, item, policy, clock))
    if to_send:
        complete = await freshness.complete([item.incident_id for item in to_send])
        notices: list[Notice] = []
        for item in to_send:
            plan = await _plan_or_postpone(store, item, policy, clock, retry_after, outcome)
            if plan is None:
                continue
            stored = _stored(plan, item, policy, clock)
            if item.incident_id in complete:
                notices.extend(plan.notices)
                plans.append(stored)
            elif plan.notices:
                outcome.waiting.append(item.incident_id)
                # Stays due at its oldest unsent notice, so it is tried again on the next pass.
                plans.append(replace(stored, next_fire_at=plan.waiting_since or clock()))
            else:
                plans.append(stored)
        outcome.claimed = await _claim(store, notices, clock, replica)
        outcome.published, outcome.publish_failed = await _publish(store, publisher, outcome.claimed, clock)
    if plans:
        await store.save_plans(plans)
    return outcome


async def _claim(
    store: RemindersStore, notices: Sequence[Notice], clock: Clock, replica: str
) -> list[Notice]:
    if not notices:
        return []
    won = await store.claim_notices(notices, clock(), replica)
    for n in notices:
        if n.notice_id not in won:
            log.info("notice.claimed_elsewhere", incident_id=n.incident_id, notice_id=n.notice_id)
    return [n for n in notices if n.notice_id in won]


async def _publish(
    store: RemindersStore, publisher: NoticePublisher, notices: Sequence[Notice], clock: Clock
) -> tuple[int, bool]:
    if not notices:
        return 0, False
    try:
        await publisher.publish(notices)
    except UnacknowledgedPublish as exc:
        # Claimed and stored as pending: :func:`publish_pending` sends them once NATS answers again.
        log.warning("notice.publish_unacknowledged", count=len(notices), error=str(exc))
        return 0, True
    published_at = clock()
    await store.mark_published([n.notice_id for n in notices], published_at)
    for n in notices:
        log.info(
            f"{n.category.value}.published",
            incident_id=n.incident_id,
            notice_id=n.notice_id,
            subject=n.subject,
            late_s=round((published_at - n.due_at).total_seconds(), 3),
        )
    return len(notices), False


async def publish_pending(
    store: RemindersStore,
    publisher: NoticePublisher,
    *,
    clock: Clock = utc_now,
    older_than: timedelta = timedelta(seconds=5),
    limit: int = 256,
) -> int:
    """Publish again the notices claimed more than ``older_than`` ago and never confirmed.

    Each is looked up in the stream first: one found there (published before a crash, never marked)
    is only marked; one not found is published with its stored bytes and ``Nats-Msg-Id``, so even a
    replica racing with the original claimer cannot double it inside the duplicate window. Returns
    how many were settled.
    """
    claimed_before = clock() - older_than
    total = 0
    while True:
        pending = await store.pending_notices(claimed_before, limit)
        settled: list[str] = []
        try:
            for notice in pending:
                if await publisher.in_stream(notice):
                    log.info(
                        "notice.found_published", incident_id=notice.incident_id, notice_id=notice.notice_id
                    )
                else:
                    await publisher.publish([notice])
                    log.info("notice.republished", incident_id=notice.incident_id, notice_id=notice.notice_id)
                settled.append(notice.notice_id)
        except UnacknowledgedPublish as exc:
            # NATS is not answering: the rest stays pending for the next round.
            log.warning("notice.republish_unacknowledged", error=str(exc))
            pending = []
        if settled:
            await store.mark_published(settled, clock())
        total += len(settled)
        if len(pending) < limit:
            return total
