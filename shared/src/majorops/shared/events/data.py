"""The data of every event type of CONTRACT §1: one pydantic model per type, and the type names.

Unknown extra ``data`` fields are kept; an unknown ``type`` is an error (see
:func:`majorops.shared.events.validation.validate_event`), so that a typo never disappears silently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

from majorops.shared.events.fields import (
    DueDate,
    NonNegativeInt,
    Number,
    Person,
    SeverityField,
    Text,
    Timestamp,
)

EVENT_TYPE_PREFIX = "majorops."


class EventData(BaseModel):
    """Base of every ``data`` model: unknown extra fields are kept, never rejected."""

    model_config = ConfigDict(extra="allow", frozen=True)


class AlertFired(EventData):
    alert_name: Text
    service: Text | None = None
    customer_count: NonNegativeInt | None = None
    external_impact: StrictBool | None = None


class AlertResolved(EventData):
    alert_name: Text


class NoData(EventData):
    """Types whose data carries no required field (``incident.confirmed``, ``incident.closed``, …)."""


SlaStatus = Literal["met", "at_risk", "breached"]


class IncidentDeclared(EventData):
    title: Text
    severity: SeverityField
    customer_impact: StrictBool | None = None
    affected_users: NonNegativeInt | None = None
    revenue_exposure: Number | None = None
    sla_status: SlaStatus | None = None
    regulatory_exposure: StrictBool | None = None


INCIDENT_UPDATE_FIELDS = (
    "title",
    "severity",
    "customer_impact",
    "affected_users",
    "revenue_exposure",
    "sla_status",
    "regulatory_exposure",
)


def _require_any(model: BaseModel, fields: Iterable[str]) -> None:
    names = tuple(fields)
    if not any(name in model.model_fields_set for name in names):
        raise ValueError(f"needs at least one of: {', '.join(names)}")


class IncidentUpdated(EventData):
    title: Text | None = None
    severity: SeverityField | None = None
    customer_impact: StrictBool | None = None
    affected_users: NonNegativeInt | None = None
    revenue_exposure: Number | None = None
    sla_status: SlaStatus | None = None
    regulatory_exposure: StrictBool | None = None

    @model_validator(mode="after")
    def _some_field(self) -> IncidentUpdated:
        _require_any(self, INCIDENT_UPDATE_FIELDS)
        return self


class PhaseEntered(EventData):
    phase: Text
    by: Person | None = None


class RoleAssigned(EventData):
    role: Text
    person: Person
    track: Text | None = None


class TrackOpened(EventData):
    track: Text
    lead: Person | None = None


class TrackClosed(EventData):
    track: Text


class MilestoneLogged(EventData):
    name: Text
    audience: Text | None = None


class TimelineLogged(EventData):
    text: Text
    by: Person | None = None


class StatusPosted(EventData):
    audience: Literal["public", "internal"]
    text: Text


class VendorEngaged(EventData):
    vendor: Text
    response_sla_minutes: Annotated[StrictInt, Field(ge=0)] | None = None


class VendorResponded(EventData):
    vendor: Text


class VendorRcaCommitted(EventData):
    vendor: Text
    due: Timestamp


class VendorRcaReceived(EventData):
    vendor: Text
    url: Text | None = None


class RootCauseIdentified(EventData):
    fingerprint: Text
    summary: Text | None = None
    contributing_factors: list[Text] | None = None
    unusual: StrictBool | None = None
    vendor_related: StrictBool | None = None


class MtmActionItem(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    title: Text
    owner: Person | None = None
    due: DueDate | None = None


MTM_ITEM_PREFIX = "MTM-"


def mtm_item_id(mtm_event_id: str, index: int) -> str:
    """The id of the ``index``-th (0-based) action item of the ``mtm.held`` event ``mtm_event_id``.

    MTM action items carry no id of their own, yet reminders escalates them and people complete
    them through ``actionitem.*`` events. The id is ``MTM-`` followed by the first 10 hex digits of
    the SHA-256 of ``"<mtm event id>#<index>"``: derived, not random, so every service, replica and
    replay names the item the same, and it fits the contract's ``item_id`` pattern.
    """
    digest = hashlib.sha256(f"{mtm_event_id}#{index}".encode()).hexdigest()
    return f"{MTM_ITEM_PREFIX}{digest[:10]}"


class MtmHeld(EventData):
    notes: StrictStr | None = None
    action_items: list[MtmActionItem] | None = None


class AfterActionScheduled(EventData):
    meeting_at: Timestamp


class AfterActionRescheduled(EventData):
    meeting_at: Timestamp
    reason: StrictStr | None = None


ItemId = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class ActionItemCreated(EventData):
    item_id: ItemId
    title: Text
    owner: Person | None = None
    due: DueDate | None = None


class ActionItemUpdated(EventData):
    item_id: ItemId
    title: Text | None = None
    owner: Person | None = None
    due: DueDate | None = None

    @model_validator(mode="after")
    def _some_field(self) -> ActionItemUpdated:
        _require_any(self, ("title", "owner", "due"))
        return self


class ActionItemCompleted(EventData):
    item_id: ItemId


class EventType(StrEnum):
    """Every event type of CONTRACT §1."""

    ALERT_FIRED = "majorops.alert.fired"
    ALERT_RESOLVED = "majorops.alert.resolved"
    INCIDENT_CONFIRMED = "majorops.incident.confirmed"
    INCIDENT_DECLARED = "majorops.incident.declared"
    INCIDENT_UPDATED = "majorops.incident.updated"
    INCIDENT_MITIGATED = "majorops.incident.mitigated"
    INCIDENT_RESOLVED = "majorops.incident.resolved"
    INCIDENT_CLOSED = "majorops.incident.closed"
    PHASE_ENTERED = "majorops.phase.entered"
    ROLE_ASSIGNED = "majorops.role.assigned"
    TRACK_OPENED = "majorops.track.opened"
    TRACK_CLOSED = "majorops.track.closed"
    MILESTONE_LOGGED = "majorops.milestone.logged"
    TIMELINE_LOGGED = "majorops.timeline.logged"
    STATUS_POSTED = "majorops.status.posted"
    VENDOR_ENGAGED = "majorops.vendor.engaged"
    VENDOR_RESPONDED = "majorops.vendor.responded"
    VENDOR_RCA_COMMITTED = "majorops.vendor.rca_committed"
    VENDOR_RCA_RECEIVED = "majorops.vendor.rca_received"
    ROOTCAUSE_IDENTIFIED = "majorops.rootcause.identified"
    MTM_HELD = "majorops.mtm.held"
    AFTERACTION_SCHEDULED = "majorops.afteraction.scheduled"
    AFTERACTION_RESCHEDULED = "majorops.afteraction.rescheduled"
    AFTERACTION_DRAFT_DISTRIBUTED = "majorops.afteraction.draft_distributed"
    AFTERACTION_HELD = "majorops.afteraction.held"
    REVIEW_PUBLISHED = "majorops.review.published"
    ACTIONITEM_CREATED = "majorops.actionitem.created"
    ACTIONITEM_UPDATED = "majorops.actionitem.updated"
    ACTIONITEM_COMPLETED = "majorops.actionitem.completed"

    @property
    def short(self) -> str:
        """The type without the ``majorops.`` prefix, as used in subjects and timelines."""
        return self.value.removeprefix(EVENT_TYPE_PREFIX)


EVENT_DATA_MODELS: Mapping[str, type[EventData]] = {
    EventType.ALERT_FIRED: AlertFired,
    EventType.ALERT_RESOLVED: AlertResolved,
    EventType.INCIDENT_CONFIRMED: NoData,
    EventType.INCIDENT_DECLARED: IncidentDeclared,
    EventType.INCIDENT_UPDATED: IncidentUpdated,
    EventType.INCIDENT_MITIGATED: NoData,
    EventType.INCIDENT_RESOLVED: NoData,
    EventType.INCIDENT_CLOSED: NoData,
    EventType.PHASE_ENTERED: PhaseEntered,
    EventType.ROLE_ASSIGNED: RoleAssigned,
    EventType.TRACK_OPENED: TrackOpened,
    EventType.TRACK_CLOSED: TrackClosed,
    EventType.MILESTONE_LOGGED: MilestoneLogged,
    EventType.TIMELINE_LOGGED: TimelineLogged,
    EventType.STATUS_POSTED: StatusPosted,
    EventType.VENDOR_ENGAGED: VendorEngaged,
    EventType.VENDOR_RESPONDED: VendorResponded,
    EventType.VENDOR_RCA_COMMITTED: VendorRcaCommitted,
    EventType.VENDOR_RCA_RECEIVED: VendorRcaReceived,
    EventType.ROOTCAUSE_IDENTIFIED: RootCauseIdentified,
    EventType.MTM_HELD: MtmHeld,
    EventType.AFTERACTION_SCHEDULED: AfterActionScheduled,
    EventType.AFTERACTION_RESCHEDULED: AfterActionRescheduled,
    EventType.AFTERACTION_DRAFT_DISTRIBUTED: NoData,
    EventType.AFTERACTION_HELD: NoData,
    EventType.REVIEW_PUBLISHED: NoData,
    EventType.ACTIONITEM_CREATED: ActionItemCreated,
    EventType.ACTIONITEM_UPDATED: ActionItemUpdated,
    EventType.ACTIONITEM_COMPLETED: ActionItemCompleted,
}

_EXTRA_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")


def parse_extra_event_types(names: Iterable[str]) -> frozenset[str]:
    """Check deployment-added event types (``MAJOROPS_EXTRA_EVENT_TYPES``); their data is free-form."""
    result = set()
    for name in names:
        name = name.strip()
        if not name:
            continue
        if not _EXTRA_TYPE_PATTERN.match(name) or not name.startswith(EVENT_TYPE_PREFIX):
            raise ValueError(
                f"extra event type {name!r} must look like 'majorops.<noun>.<verb>' "
                "(lower-case tokens separated by dots)"
            )
        result.add(name)
    return frozenset(result)
