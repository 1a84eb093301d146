"""The escalation a fired level publishes: who is notified and what they read (CONTRACT §4).

Each message is one human sentence that says what is missing, by when it was due (UTC), and what
to do now; levels 2 and 3 add how long it has been open and who it was escalated to. The message is
true of the record when the level fires: a level fired after its obligation was met (late history)
says so, and a late level says when it fell due.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from majorops.reminders.domain.levels import EscalationLevel, PlannedEscalation
from majorops.reminders.domain.obligations import Obligation
from majorops.reminders.domain.record import ActionItem
from majorops.shared.escalations import Escalation, Notify, ObligationKind
from majorops.shared.events import is_plain_date
from majorops.shared.incident.order import role_key

_MOST_ITEMS_LISTED = 10


def format_moment(moment: datetime) -> str:
    """``2026-11-21 12:00 UTC`` (seconds only when not zero): how messages show a time."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC" if utc.second or utc.microsecond else "%Y-%m-%d %H:%M UTC")


def describe_span(span: timedelta) -> str:
    """A duration as people say it: ``24 h``, ``30 h``, ``2 d``, ``3 d 4 h``, ``90 min``, ``2 s``.

    Up to two days stays in hours, because deadlines such as "within 24 h of close" are spoken so.
    """
    seconds = span.total_seconds()
    if seconds < 60:
        return f"{seconds:g} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, mins = divmod(minutes, 60)
    if hours == 0:
        return f"{mins} min" + (f" {secs} s" if secs else "")
    parts: list[str] = []
    if hours >= 48:
        days, hours = divmod(hours, 24)
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if mins:
        parts.append(f"{mins} min")
    return " ".join(parts)


def action_item_due_text(item: ActionItem | None, due_at: datetime) -> str:
    """An action item's due as its owner wrote it: ``2026-12-01 (end of day)`` or a UTC time."""
    if item is not None and item.due_as_given is not None and is_plain_date(item.due_as_given):
        return f"{item.due_as_given}, end of day"
    return format_moment(due_at)


def _item_list(items: tuple[ActionItem, ...]) -> str:
    shown = [
        item.item_id + (f" ({item.owner})" if item.owner else " (no owner)")
        for item in items[:_MOST_ITEMS_LISTED]
    ]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _fact_and_action(obligation: Obligation, at: datetime) -> tuple[str, str]:
    """What is missing and by when (``… (due …)``), and what to do now, for a level at ``at``."""
    o = obligation
    incident, due = o.incident_id, format_moment(o.due_at)
    match o.kind:
        case ObligationKind.AFTER_ACTION_NOT_SCHEDULED:
            within = f"within {describe_span(o.due_at - o.since)} of close" if o.since else "by its deadline"
            return f"After Action for {incident} not scheduled {within} (due {due})", "schedule it now."
        case ObligationKind.AFTER_ACTION_NOT_HELD:
            return (
                f"After Action for {incident} not held by its deadline (due {due})",
                "hold it now — a settled incident still gets its After Action.",
            )
        case ObligationKind.DRAFT_NOT_DISTRIBUTED:
            return (
                f"Learning Review draft for {incident} not distributed ahead of the After Action (due {due})",
                "distribute it now so attendees read it before the meeting, "
                "or reschedule the meeting until it is ready.",
            )
        case ObligationKind.REVIEW_NOT_PUBLISHED:
            return (
                f"Learning Review for {incident} not published after the After Action was held (due {due})",
                "publish it now.",
            )
        case ObligationKind.ACTION_ITEMS_OPEN_AT_REVIEW:
            still_open = o.open_items_at(at)
            count = len(still_open)
            what = f"{count} action item{'' if count == 1 else 's'}" if count else "Action items"
            listed = f": {_item_list(still_open)}" if still_open else ""
            return (
                f"{what} of {incident} still open at the action item review (due {due}){listed}",
                "complete them or re-plan them with their owners.",
            )
        case ObligationKind.ACTION_ITEM_OVERDUE:
            item = o.action_item
            title = f' "{item.title}"' if item is not None and item.title else ""
            owner = item.owner if item is not None else None
            todo = (
                f"{owner}: complete it or agree a new date"
                if owner
                else "it has no owner: assign one, then complete it or agree a new date"
            )
            return (
                f"Action item {o.item}{title} of {incident} not completed by its due date "
                f"({action_item_due_text(item, o.due_at)})",
                f"{todo}.",
            )
        case ObligationKind.VENDOR_RCA_NOT_COMMITTED:
            return (
                f"Vendor {o.item} has not committed an RCA date for {incident} by close (due {due})",
                "get a committed date from the vendor and record it.",
            )
        case ObligationKind.VENDOR_RCA_OVERDUE:
            return (
                f"Vendor {o.item}'s RCA for {incident} not received by its committed date (due {due})",
                "escalate with the vendor and set a follow-up date.",
            )
        case ObligationKind.AFTER_ACTION_RESCHEDULED_REPEATEDLY:
            return (
                f"After Action for {incident} rescheduled {o.reschedules} times (second reschedule {due})",
                "protect the calendar and hold it.",
            )
        case ObligationKind.MTM_RECOMMENDED:
            after = f"{describe_span(o.due_at - o.since)} after declaration" if o.since else "at its due time"
            return (
                f"Critical incident {incident} still unresolved {after} (due {due})",
                "call a Major Technical Meeting to align on recovery and actions.",
            )
    raise ValueError(f"no message for obligation kind {o.kind!r}")  # pragma: no cover


def escalation_message(
    planned: PlannedEscalation, fired_at: datetime | None = None, *, late: bool = False
) -> str:
    """The sentence people read for a level fired at ``fired_at`` (default: the level's own time).

    It is true of the record at ``fired_at``: a level that fires after its obligation was met (the
    history arrived late) says when it was met and that nothing is left to do, instead of asking for
    it; a late level says when it fell due.
    """
    o = planned.obligation
    at = planned.at if fired_at is None else fired_at
    fact, action = _fact_and_action(o, planned.at)
    level = int(planned.level)
    who = planned.level.role.replace("_", " ")
    if o.met_at is not None and o.met_by(at):
        return (
            f"{fact}; done {describe_span(o.met_at - o.due_at)} after it was due "
            f"({format_moment(o.met_at)}): recorded for the review, nothing to do now "
            f"(level {level}, {who})."
        )
    message = f"{fact}; {action}"
    if planned.level != EscalationLevel.MIM:
        open_for = describe_span(planned.at - o.due_at)
        message += f" Still open {open_for} after it was due: escalated to the {who} (level {level})."
    if late:
        message += f" Sent late: this level fell due {format_moment(planned.at)}."
    return message


def build_escalation(
    planned: PlannedEscalation,
    *,
    fired_at: datetime,
    people: Mapping[str, str] | None = None,
    late_after: timedelta | None = None,
    superseded_by: str | None = None,
) -> Escalation:
    """The escalation payload of a fired level.

    ``people`` maps a role to the person of its latest ``role.assigned``
    (:attr:`~majorops.reminders.domain.record.IncidentRecord.people`); ``notify.person`` is that
    person for the level's role, or ``None`` when the record names nobody. ``late_after`` is the
    escalation interval: a level fired more than that after its time is ``late``. ``superseded_by``
    is the id of the higher level of the same obligation due by ``fired_at``, if any.
    """
    if fired_at.tzinfo is None:
        raise ValueError("fired_at must be timezone-aware")
    o = planned.obligation
    role = planned.level.role
    late = late_after is not None and fired_at - planned.at > late_after
    return Escalation(
        escalation_id=planned.escalation_id,
        incident_id=o.incident_id,
        kind=o.kind,
        level=int(planned.level),
        due_at=o.due_at,
        fired_at=fired_at.astimezone(UTC),
        notify=Notify(role=role, person=(people or {}).get(role_key(role))),
        message=escalation_message(planned, fired_at, late=late),
        item=o.item,
        late=late,
        superseded_by=superseded_by,
        met_at=o.met_at if o.met_at is not None and o.met_by(fired_at) else None,
    )
