"""What a review carries over from other incidents (the learning loop, beyond CONTRACT §5).

"Repeat incidents trigger a mandatory After Action regardless of severity because repetition
means a prior learning was not implemented." So a repeat's review links the earlier reviews of
the same root cause and lists their action items still open: the learning not yet implemented.

"Lessons are not learned until behavior changes." After publication, an action item completed
while the same alert (same ``alert_name`` on the same ``service``) fires again within the
ineffective-fix window (:data:`INEFFECTIVE_FIX_WINDOW`, 30 days from the item's completion) is
flagged as possibly ineffective: the fix shipped, the symptom came back. The flag is there for the
action-item review, 30 days after publication (``action_review_at``, see
:data:`~majorops.shared.decisions.ACTION_ITEM_REVIEW_AFTER_PUBLICATION`), a different clock.

Pure: the caller gives what its store knows of the earlier incidents and the alert fires that
match; these functions only decide what the review shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from majorops.reports.domain.action_items import ActionItem, ActionItemFields
from majorops.reports.domain.timeline import ReviewStatus
from majorops.shared.decisions import AfterActionDecision, EarlierOpenActionItem, UtcTime, format_utc
from majorops.shared.events import AlertFired, CloudEvent, EventType, Severity
from majorops.shared.incident.model import Incident

INEFFECTIVE_FIX_WINDOW = timedelta(days=30)
"""The ineffective-fix window: how long after an action item's *completion* a recurring alert puts
the fix in doubt. Not the action-item review, which is 30 days after the review's *publication*."""

EFFECTIVENESS_WINDOW = INEFFECTIVE_FIX_WINDOW
"""The former name of :data:`INEFFECTIVE_FIX_WINDOW`, kept for the adapters that import it."""

REVIEW_PATH = "/v1/reviews/{incident_id}"
"""Where a review is read over HTTP: the link from one review to another."""

_FROZEN = ConfigDict(frozen=True)


def review_path(incident_id: str) -> str:
    """The address of an incident's review, relative to the reports service."""
    return REVIEW_PATH.format(incident_id=incident_id)


# --- earlier reviews of a repeat incident -------------------------------------------------------


class EarlierActionItem(ActionItemFields):
    """An action item of an earlier incident with the same root cause, still open."""


class EarlierReview(BaseModel):
    """An earlier incident this one repeats, with what is left of its learning."""

    model_config = _FROZEN

    incident_id: str
    link: str
    title: str | None = None
    severity: Severity | None = None
    status: ReviewStatus | None = None
    """``None`` when reports holds no review of that incident (only policy's word for it)."""
    open_action_items: list[EarlierActionItem] = Field(default_factory=list)


@dataclass(frozen=True)
class EarlierRecord:
    """What the store knows of an earlier incident: its review's headline and its action items."""

    title: str | None = None
    severity: Severity | None = None
    status: ReviewStatus | None = None
    action_items: Sequence[ActionItem] = field(default_factory=tuple)


def decision_open_items(decision: AfterActionDecision | None) -> list[EarlierOpenActionItem]:
    """The earlier incidents' open items policy listed in its decision (none without a decision)."""
    return list(decision.repeat_open_action_items) if decision is not None else []


def link_earlier_reviews(
    decision: AfterActionDecision | None, known: Mapping[str, EarlierRecord]
) -> list[EarlierReview]:
    """The earlier reviews of the incidents ``decision.repeat_of`` names, in that order.

    Open items: what reports' own record says of an earlier incident wins (it sees completions
    as they happen); the decision's ``repeat_open_action_items`` adds the items reports does not
    know at all (an incident from before reports' store began, say).
    """
    if decision is None:
        return []
    from_policy: dict[str, list[EarlierOpenActionItem]] = {}
    for item in decision_open_items(decision):
        from_policy.setdefault(item.incident_id, []).append(item)
    links = []
    for incident_id in dict.fromkeys(decision.repeat_of):
        if incident_id == decision.incident_id:
            continue
        record = known.get(incident_id, EarlierRecord())
        known_ids = {item.item_id for item in record.action_items}
        open_items = [
            EarlierActionItem.model_validate(i, from_attributes=True)
            for i in record.action_items
            if i.status == "open"
        ]
        open_items += [
            EarlierActionItem.model_validate(i, from_attributes=True)
            for i in sorted(from_policy.get(incident_id, []), key=lambda i: i.item_id)
            if i.item_id not in known_ids
        ]
        links.append(
            EarlierReview(
                incident_id=incident_id,
                link=review_path(incident_id),
                title=record.title,
                severity=record.severity,
                status=record.status,
                open_action_items=list({i.item_id: i for i in open_items}.values()),
            )
        )
    return links


# --- effectiveness of completed action items ----------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class AlertKey:
    """Which alert: its name and the service it fired for (``None`` when the alert named none)."""

    alert_name: str
    service: str | None


class AlertFire(BaseModel):
    """One ``alert.fired`` of any incident, as the cross-incident index keeps it."""

    model_config = _FROZEN

    event_id: str
    incident_id: str
    alert_name: str
    service: str | None = None
    fired_at: UtcTime

    @property
    def key(self) -> AlertKey:
        return AlertKey(self.alert_name, self.service)


def alert_fire_of(event: CloudEvent) -> AlertFire | None:
    """The event as an alert fire, or ``None`` when it is not a valid ``alert.fired``."""
    if event.type != EventType.ALERT_FIRED:
        return None
    try:
        data = AlertFired.model_validate(event.data)
    except ValidationError:
        return None
    return AlertFire(
        event_id=event.id,
        incident_id=event.incident_id,
        alert_name=data.alert_name.strip(),
        service=data.service.strip() if data.service else None,
        fired_at=event.occurred_at,
    )


def alert_fires_in(incident: Incident) -> list[AlertFire]:
    """Every alert fire of the incident, in the record's order."""
    return [
        AlertFire(
            event_id=alert.event_id,
            incident_id=incident.incident_id,
            alert_name=alert.name,
            service=alert.service,
            fired_at=alert.at,
        )
        for alert in incident.alerts
    ]


class EffectivenessFinding(BaseModel):
    """A completed action item whose incident's alert fired again within 30 days of completion."""

    # The class docstring is the schema's description in the committed contract: the window is
    # INEFFECTIVE_FIX_WINDOW (from the item's completion), not the action-item review.

    model_config = _FROZEN

    item_id: str
    title: str
    completed_at: UtcTime
    alert_name: str
    service: str | None = None
    recurred_at: UtcTime
    """The first fire of the alert after the completion."""
    recurred_in: str
    """The incident of that fire (this incident itself when it fired again here)."""
    recurrences: int
    """How many fires of the alert fall within the 30 days after the completion."""
    message: str


def _after(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours < 48:
        return f"{max(hours, 0)} h"
    return f"{hours // 24} days"


def possibly_ineffective(
    incident_id: str,
    action_items: Iterable[ActionItem],
    own_fires: Iterable[AlertFire],
    fires: Iterable[AlertFire],
    *,
    published: bool,
) -> list[EffectivenessFinding]:
    """The completed items of ``incident_id`` each followed by a fire of one of its own alerts.

    ``own_fires`` are the incident's alert fires (they say which alerts matter); ``fires`` are
    the fires of any incident that may follow a completion (the incident's own included). A fire
    counts when it comes strictly after the completion and within the ineffective-fix window
    (:data:`INEFFECTIVE_FIX_WINDOW`). Nothing is flagged before the review is published: the flag is
    for the action-item review, 30 days after publication.
    """
    if not published:
        return []
    keys = {fire.key for fire in own_fires}
    candidates = sorted(
        {fire.event_id: fire for fire in fires if fire.key in keys}.values(),
        key=lambda f: (f.fired_at, f.event_id),
    )
    findings = []
    for item in action_items:
        if item.completed_at is None:
            continue
        done = item.completed_at
        within = [f for f in candidates if done < f.fired_at <= done + INEFFECTIVE_FIX_WINDOW]
        if not within:
            continue
        first = within[0]
        where = f" on {first.service}" if first.service else ""
        elsewhere = "" if first.incident_id == incident_id else f" (incident {first.incident_id})"
        times = f", {len(within)} times within 30 days" if len(within) > 1 else ""
        findings.append(
            EffectivenessFinding(
                item_id=item.item_id,
                title=item.title,
                completed_at=done,
                alert_name=first.alert_name,
                service=first.service,
                recurred_at=first.fired_at,
                recurred_in=first.incident_id,
                recurrences=len(within),
                message=(
                    f'Action item {item.item_id} "{item.title}" was completed {format_utc(done)}, yet alert '
                    f"{first.alert_name} fired again{where} {_after(first.fired_at - done)} later{elsewhere}"
                    f"{times}: it may not have removed the cause. Check it at the 30-day review."
                ),
            )
        )
    return findings


def latest_completion(action_items: Iterable[ActionItem]) -> datetime | None:
    """When the last completed item was completed (the end of the window fires are read for)."""
    done = [item.completed_at for item in action_items if item.completed_at is not None]
    return max(done) if done else None


def earliest_completion(action_items: Iterable[ActionItem]) -> datetime | None:
    """When the first completed item was completed (the start of the window fires are read for)."""
    done = [item.completed_at for item in action_items if item.completed_at is not None]
    return min(done) if done else None
