"""The obligations of CONTRACT §4: what must happen by when, and when (if ever) it did happen.

One :class:`Obligation` per row of the contract's table — one per action item for
``action_item_overdue``, one per vendor for ``vendor_rca_not_committed``/``vendor_rca_overdue``.
Rows that hang on policy's output (requirement, close, deadlines, severity, declaration) read the
latest :class:`~majorops.shared.decisions.AfterActionDecision`; reminders never re-derives policy's
rules. Everything else is read from the set of the incident's events (:mod:`.record`), so the same
events in any order give the same obligations.

``met_at`` is the event time of the earliest event that meets the obligation: a level of an
escalation fires if and only if ``met_at`` is unknown or later than that level's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from majorops.reminders.domain.record import ActionItem, IncidentRecord, read_record
from majorops.shared.decisions import AfterActionDecision, Requirement
from majorops.shared.escalations import MTM_RECOMMENDED_AFTER, PER_ITEM_KINDS, ObligationKind
from majorops.shared.events import CloudEvent, EventType, Severity

MEETING_EVENTS: Mapping[ObligationKind, tuple[EventType, ...]] = {
    # The "met by" column for the incident-wide rows, exactly as the contract's table has it.
    ObligationKind.AFTER_ACTION_NOT_SCHEDULED: (EventType.AFTERACTION_SCHEDULED,),
    ObligationKind.AFTER_ACTION_NOT_HELD: (EventType.AFTERACTION_HELD,),
    ObligationKind.DRAFT_NOT_DISTRIBUTED: (EventType.AFTERACTION_DRAFT_DISTRIBUTED,),
    ObligationKind.REVIEW_NOT_PUBLISHED: (EventType.REVIEW_PUBLISHED,),
    ObligationKind.MTM_RECOMMENDED: (EventType.INCIDENT_RESOLVED,),
}


@dataclass(frozen=True, slots=True)
class Obligation:
    """Something that must happen for an incident by ``due_at``. All times are UTC."""

    incident_id: str
    kind: ObligationKind
    due_at: datetime
    met_at: datetime | None = None
    """The event time of the earliest event that meets it; ``None`` while unmet (or never meetable)."""
    item: str | None = None
    """The action item id or vendor name, for the per-item kinds; ``None`` for the others."""
    since: datetime | None = None
    """What the due time counts from, when the contract says so (close, declaration): for messages."""
    action_item: ActionItem | None = None
    """The action item of an ``action_item_overdue``."""
    review_scope: tuple[ActionItem, ...] = ()
    """The action items an ``action_items_open_at_review`` covers: those existing at the review."""
    reschedules: int = 0
    """How many times the meeting was rescheduled, for ``after_action_rescheduled_repeatedly``."""
    time_bound: bool = False
    """A suggestion that only helps while it can still be acted on (``mtm_recommended``): once the
    record shows it met — at whatever time — none of its levels is sent any more, even one whose
    time came before the meeting event (see :attr:`expired`)."""

    def __post_init__(self) -> None:
        if (self.item is not None) != (self.kind in PER_ITEM_KINDS):
            raise ValueError(f"{self.kind}: item is required exactly for the per-item kinds")
        if self.due_at.tzinfo is None:
            raise ValueError("due_at must be timezone-aware")

    def met_by(self, moment: datetime) -> bool:
        """Whether an event meeting the obligation has a time at or before ``moment``."""
        return self.met_at is not None and self.met_at <= moment

    @property
    def expired(self) -> bool:
        """A time-bound obligation the record already shows met: nothing of it is sent any more.

        An MTM suggestion read from a history that arrives after the incident was resolved ("call a
        Major Technical Meeting" for an incident already over) would be false when it is read; the
        review records the missing MTM as a finding instead.
        """
        return self.time_bound and self.met_at is not None

    def open_items_at(self, moment: datetime) -> tuple[ActionItem, ...]:
        """The action items of :attr:`review_scope` not completed at ``moment``."""
        return tuple(
            item for item in self.review_scope if item.completed_at is None or item.completed_at > moment
        )


def derive_obligations(
    incident_id: str,
    events: Iterable[CloudEvent],
    decision: AfterActionDecision | None,
    *,
    timezone: tzinfo = UTC,
) -> list[Obligation]:
    """Every obligation of the incident, from its events and its latest decision (or ``None``).

    ``timezone`` is the organisation's (``MAJOROPS_TIMEZONE``), used to read an action item ``due``
    given as a plain date: it falls due at the end of that day there (see
    :func:`~majorops.reminders.domain.record.due_moment`). Sorted by due time, kind and item.
    """
    return obligations_of(read_record(incident_id, events, timezone=timezone), decision)


def obligations_of(record: IncidentRecord, decision: AfterActionDecision | None) -> list[Obligation]:
    """Every obligation of an already-read incident record (see :func:`derive_obligations`)."""
    if decision is not None and decision.incident_id != record.incident_id:
        raise ValueError(
            f"decision of incident {decision.incident_id!r} given for incident {record.incident_id!r}"
        )
    out: list[Obligation] = []
    if decision is not None:
        out.extend(_decision_rows(record, decision))
    out.extend(_action_item_rows(record))
    out.extend(_vendor_rca_overdue_rows(record))
    out.extend(_rescheduled_repeatedly_rows(record))
    out.sort(key=lambda o: (o.due_at, o.kind.value, o.item or ""))
    return out


def _utc(moment: datetime | None) -> datetime | None:
    # Decisions are published in UTC with a ``Z``; a naive time can only mean UTC.
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _incident_wide(
    record: IncidentRecord, kind: ObligationKind, due_at: datetime, since: datetime | None = None
) -> Obligation:
    return Obligation(
        incident_id=record.incident_id,
        kind=kind,
        due_at=due_at,
        met_at=record.earliest(*MEETING_EVENTS[kind]),
        since=since,
    )


def _decision_rows(record: IncidentRecord, decision: AfterActionDecision) -> Iterable[Obligation]:
    deadlines = decision.deadlines
    closed_at = _utc(decision.closed_at)
    schedule_by, hold_by = _utc(deadlines.schedule_by), _utc(deadlines.hold_by)
    draft_due, publish_by = _utc(deadlines.draft_due), _utc(deadlines.publish_by)
    action_review_at = _utc(deadlines.action_review_at)

    if decision.requirement == Requirement.MANDATORY and closed_at is not None:
        if schedule_by is not None:
            yield _incident_wide(record, ObligationKind.AFTER_ACTION_NOT_SCHEDULED, schedule_by, closed_at)
        if hold_by is not None:
            yield _incident_wide(record, ObligationKind.AFTER_ACTION_NOT_HELD, hold_by, closed_at)
    # Policy sets these deadlines only once the event they hang on exists (a meeting scheduled,
    # the After Action held, the review published): that is exactly when the row exists.
    if draft_due is not None:
        yield _incident_wide(record, ObligationKind.DRAFT_NOT_DISTRIBUTED, draft_due)
    if publish_by is not None:
        yield _incident_wide(record, ObligationKind.REVIEW_NOT_PUBLISHED, publish_by)
    if action_review_at is not None:
        yield _action_items_open_at_review(record, action_review_at)
    if closed_at is not None:
        yield from _vendor_rca_not_committed_rows(record, closed_at)
    mtm = _mtm_recommended(record, decision)
    if mtm is not None:
        yield mtm


def _action_items_open_at_review(record: IncidentRecord, review_at: datetime) -> Obligation:
    """The action-item review, 30 days after publication (``action_review_at``): "Unresolved items
    at the 30-day review are escalated"."""
    # The review looks at the items that exist when it is due: an item first named later was not
    # open at the review (its own due date covers it), and leaving it out keeps ``met_at`` one
    # instant — the completion of the last covered item — so levels follow the same rule as others.
    scope = tuple(item for item in record.action_items if item.first_seen_at <= review_at)
    completions = [item.completed_at for item in scope]
    met_at: datetime | None
    if not scope:
        # Nothing to review: met from the moment the review was published.
        published = record.earliest(EventType.REVIEW_PUBLISHED)
        met_at = min(published, review_at) if published is not None else review_at
    elif all(done is not None for done in completions):
        met_at = max(done for done in completions if done is not None)
    else:
        met_at = None
    return Obligation(
        incident_id=record.incident_id,
        kind=ObligationKind.ACTION_ITEMS_OPEN_AT_REVIEW,
        due_at=review_at,
        met_at=met_at,
        review_scope=scope,
    )


def _per_item(
    record: IncidentRecord,
    kind: ObligationKind,
    item: str,
    due_at: datetime,
    met_at: datetime | None,
    action_item: ActionItem | None = None,
) -> Obligation:
    """A row of one of the per-item kinds (an action item's id or a vendor's name as ``item``)."""
    return Obligation(record.incident_id, kind, due_at, met_at, item=item, action_item=action_item)


def _action_item_rows(record: IncidentRecord) -> Iterable[Obligation]:
    for item in record.action_items:
        if item.due_at is not None:
            yield _per_item(
                record, ObligationKind.ACTION_ITEM_OVERDUE, item.item_id, item.due_at, item.completed_at, item
            )


def _vendor_rca_not_committed_rows(record: IncidentRecord, closed_at: datetime) -> Iterable[Obligation]:
    for vendor in record.vendors:
        if vendor.engaged_at is not None:
            answers = [t for t in (vendor.rca_committed_at, vendor.rca_received_at) if t is not None]
            met_at = min(answers) if answers else None
            yield _per_item(record, ObligationKind.VENDOR_RCA_NOT_COMMITTED, vendor.name, closed_at, met_at)


def _vendor_rca_overdue_rows(record: IncidentRecord) -> Iterable[Obligation]:
    for vendor in record.vendors:
        if vendor.rca_due_at is not None:
            yield _per_item(
                record,
                ObligationKind.VENDOR_RCA_OVERDUE,
                vendor.name,
                vendor.rca_due_at,
                vendor.rca_received_at,
            )


def _rescheduled_repeatedly_rows(record: IncidentRecord) -> Iterable[Obligation]:
    if len(record.reschedules) >= 2:
        # Due at the second reschedule and never met: it fires once, when the pattern appears.
        yield Obligation(
            incident_id=record.incident_id,
            kind=ObligationKind.AFTER_ACTION_RESCHEDULED_REPEATEDLY,
            due_at=record.reschedules[1],
            reschedules=len(record.reschedules),
        )


def _mtm_recommended(record: IncidentRecord, decision: AfterActionDecision) -> Obligation | None:
    if decision.severity != Severity.CRITICAL:
        return None
    declared_at = _utc(decision.declared_at) or record.earliest(EventType.INCIDENT_DECLARED)
    if declared_at is None:
        return None
    resolutions = [
        t for t in (record.earliest(EventType.INCIDENT_RESOLVED), _utc(decision.resolved_at)) if t is not None
    ]
    resolved_at = min(resolutions) if resolutions else None
    # "Not yet resolved": an incident raised to critical only after its recovery needs no MTM.
    critical_since = record.critical_since or declared_at
    if resolved_at is not None and resolved_at <= critical_since:
        return None
    return Obligation(
        incident_id=record.incident_id,
        kind=ObligationKind.MTM_RECOMMENDED,
        due_at=declared_at + MTM_RECOMMENDED_AFTER,
        met_at=resolved_at,
        since=declared_at,
        time_bound=True,
    )
