"""The input contract: CloudEvents 1.0 envelopes and the data of every event type (CONTRACT §1).

Validation is all-or-nothing per envelope and reports every problem with its field path, so that
ingest can answer a batch with one precise problem document. Unknown extra ``data`` fields are
kept; an unknown ``type`` is an error, so that a typo never disappears silently.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

EVENT_TYPE_PREFIX = "majorops."
INCIDENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
EVENT_ID_MAX_LENGTH = 128

# ASCII digits only, matched in full (``fullmatch``: ``$`` alone would let a trailing newline in).
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
    re.ASCII,
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)

MIN_YEAR = 1970
MAX_YEAR = 2999
"""The years (as written) a time or date of an event or a request may have. Incidents happen now:
an absurd year is a mistake, and year 9999 would overflow the deadline arithmetic downstream
(policy adds business days, reminders hours, a plain ``due`` date the next day)."""


class Severity(StrEnum):
    """Incident severity, strongest first in :data:`SEVERITY_RANK`."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


SEVERITY_ALIASES: Mapping[str, Severity] = {
    "p1": Severity.CRITICAL,
    "p2": Severity.HIGH,
    "p3": Severity.MEDIUM,
    "p4": Severity.LOW,
}
_SEVERITY_VALUES = frozenset(s.value for s in Severity)
SEVERITY_RANK: Mapping[Severity, int] = {
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


def normalise_severity(value: object) -> object:
    """Map ``P1``–``P4`` (any case) and any-case names onto :class:`Severity` values."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in SEVERITY_ALIASES:
            return SEVERITY_ALIASES[lowered].value
        return lowered
    return value


def one_of(values: Iterable[str]) -> str:
    """``one of 'a', 'b', 'c'``: how a message lists every accepted form of an enumerated field."""
    return "one of " + ", ".join(f"'{value}'" for value in values)


def severity_forms() -> list[str]:
    """Every accepted form of a severity: the :class:`Severity` names, strongest first, then the
    :data:`SEVERITY_ALIASES` upper-cased (both are accepted in any case). Generated, so a new alias
    is named in error messages by itself."""
    names = [s.value for s in sorted(Severity, key=SEVERITY_RANK.__getitem__, reverse=True)]
    return names + sorted(alias.upper() for alias in SEVERITY_ALIASES)


def shown(value: object, limit: int = 60) -> str:
    """A received value as an error message shows it: a string quoted like the accepted forms
    (``'urgent'``), anything else as JSON (``5``, ``null``); a long one is cut with ``…``."""
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= limit else f"'{value[:limit]}…'"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else f"{text[:limit]}…"


def _check_severity(value: object) -> object:
    """Normalise a severity (:func:`normalise_severity`); refuse anything else naming every accepted
    form (pydantic's own enum message would leave the ``P1``–``P4`` aliases out)."""
    normalised = normalise_severity(value)
    if not isinstance(normalised, str) or normalised not in _SEVERITY_VALUES:
        raise PydanticCustomError(
            "severity",
            "must be {forms} (any case); got {got}",
            {"forms": one_of(severity_forms()), "got": shown(value)},
        )
    return normalised


def parse_rfc3339(value: object) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset (``Z`` or ``±hh:mm``)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-11-20T09:14:00Z")
    return datetime.fromisoformat(value.replace("z", "Z"))


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"year {year:04d} is out of range: the years {MIN_YEAR}–{MAX_YEAR} are accepted")


def checked_time(value: object) -> datetime:
    """:func:`parse_rfc3339` of a time received (an event's or a request's), which must also be in
    the years :data:`MIN_YEAR`–:data:`MAX_YEAR` as written. Times the system computed (deadlines)
    are parsed with :func:`parse_rfc3339` alone."""
    moment = parse_rfc3339(value)
    _check_year(moment.year)
    return moment


def _check_rfc3339(value: object) -> object:
    checked_time(value)
    return value


def is_plain_date(due: str) -> bool:
    """Whether a ``due`` is a plain ``YYYY-MM-DD`` date rather than a timestamp."""
    return _ISO_DATE.fullmatch(due) is not None


def due_moment(due: str, timezone: tzinfo = UTC) -> datetime:
    """The instant (UTC) a ``due`` (action item, MTM item, change) falls due.

    An RFC 3339 timestamp is that instant. A plain date ``YYYY-MM-DD`` means "by the end of that
    day" in ``timezone`` (the organisation's, UTC by default): it falls due at the *start of the
    next day*, so a completion at any moment of the due date is on time, and one stamped exactly at
    the following midnight meets it exactly at its due time (which counts as met). Reminders
    escalates by this reading and reports lists overdue items by it, so the two always agree.
    """
    if is_plain_date(due):
        next_day = date.fromisoformat(due) + timedelta(days=1)
        return datetime.combine(next_day, time(0), tzinfo=timezone).astimezone(UTC)
    return parse_rfc3339(due).astimezone(UTC)


def _check_due(value: object) -> object:
    if isinstance(value, str) and is_plain_date(value):
        _check_year(date.fromisoformat(value).year)
        return value
    return _check_rfc3339(value)


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Timestamps stay the strings they were sent as (the payload is republished "as received");
# they are only checked here and parsed where a rule needs them.
TIMESTAMP_SCHEMA: dict[str, Any] = {"format": "date-time", "pattern": _RFC3339.pattern}
"""How an RFC 3339 timestamp with an offset is described in JSON schemas (documentation only)."""
Timestamp = Annotated[StrictStr, AfterValidator(_check_rfc3339), Field(json_schema_extra=TIMESTAMP_SCHEMA)]
DueDate = Annotated[StrictStr, AfterValidator(_check_due)]
"""An RFC 3339 timestamp, or a plain ``YYYY-MM-DD`` date (an action item due "by that day")."""
Text = Annotated[StrictStr, AfterValidator(_non_blank)]
Person = Annotated[StrictStr, AfterValidator(_non_blank)]
SeverityField = Annotated[Severity, BeforeValidator(_check_severity)]
Number = StrictInt | StrictFloat
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]


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

_SEVERITY_TYPES = frozenset({EventType.INCIDENT_DECLARED, EventType.INCIDENT_UPDATED})
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


def _check_id(value: str) -> str:
    """An event id is sent as the ``Nats-Msg-Id`` header: a line break in it would end the header
    (and could add one), and NATS trims white space around a header value, so ``' a'`` and ``'a'``
    would be one message to JetStream's duplicate window but two ids to everyone else."""
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise ValueError(
            f"must not contain control characters or line breaks (U+{ord(bad):04X} found): "
            "the id is sent as the Nats-Msg-Id header"
        )
    if value != value.strip():
        raise ValueError(
            "must not begin or end with white space: the Nats-Msg-Id header drops it, so the id "
            "would name another event"
        )
    return value


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode (CONTRACT §1).

    ``data`` holds the normalised data (severity aliases mapped, extra fields kept). Extension
    attributes of the envelope are kept as extra fields.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: Annotated[StrictStr, Field(min_length=1, max_length=EVENT_ID_MAX_LENGTH), AfterValidator(_check_id)]
    source: Annotated[StrictStr, Field(min_length=1)]
    type: Annotated[
        StrictStr,
        Field(
            description="One of the event types of CONTRACT §1, or one this deployment added on purpose",
            json_schema_extra={"pattern": r"^majorops\.[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$"},
        ),
    ]
    time: Timestamp
    subject: Annotated[StrictStr, Field(pattern=INCIDENT_ID_PATTERN)]
    datacontenttype: Literal["application/json"] | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def incident_id(self) -> str:
        return self.subject

    @cached_property
    def occurred_at(self) -> datetime:
        """When the thing happened (``time``), as an aware datetime."""
        return parse_rfc3339(self.time)

    @property
    def short_type(self) -> str:
        return self.type.removeprefix(EVENT_TYPE_PREFIX)

    def typed_data(self) -> EventData:
        """The ``data`` parsed into its type's model (free-form for deployment-added types)."""
        model = EVENT_DATA_MODELS.get(self.type, NoData)
        return model.model_validate(self.data)

    def to_wire(self) -> dict[str, Any]:
        """The envelope as JSON-ready dict, as published to JetStream."""
        return self.model_dump(mode="json", exclude_none=False, exclude_unset=True)

    def written_by(self, authtype: str, authid: str) -> CloudEvent:
        """This event with the CloudEvents Auth Context extension saying who wrote it."""
        return self.model_copy(update={"authtype": authtype, "authid": authid})

    @property
    def author(self) -> str | None:
        """The ``authid`` the system recorded (the name of the token that sent or made the event)."""
        value = (self.model_extra or {}).get("authid")
        return value if isinstance(value, str) else None


AUTH_ATTRIBUTES = ("authtype", "authid", "authclaims")
"""The CloudEvents Auth Context extension (cloudevents/spec ``extensions/authcontext.md``): who wrote
an event. Set by the system from the credentials of the request, never taken from a sender."""
AUTH_API_KEY = "api_key"
"""``authtype`` of an event sent or made with one of our named tokens (``authid`` is its name)."""
AUTH_SERVICE_ACCOUNT = "service_account"
"""``authtype`` of an event that came over NATS (``authid`` ``nats``: NATS permissions decide who
may request ``majorops.ingest``)."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One validation problem: where (a JSON path such as ``data.severity``) and why."""

    field: str
    message: str
    index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.index is not None:
            out["index"] = self.index
        return out


class EventValidationError(ValueError):
    """Raised with every problem of one envelope."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


def _loc(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path or "(envelope)"


def _errors_from(exc: ValidationError, prefix: str) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        # Strict-type errors name the Python type; say what JSON was expected instead.
        if err["type"] in {"string_type"}:
            message = "must be a string"
        elif err["type"] in {"int_type"}:
            message = "must be an integer"
        elif err["type"] in {"bool_type"}:
            message = "must be true or false"
        elif err["type"] == "missing":
            message = "is required"
        out.append(FieldError(_loc(prefix, tuple(err["loc"])), message))
    return out


def unknown_type_message(event_type: str, extra_types: Iterable[str] = ()) -> str:
    """Why ``event_type`` is refused, naming the closest known type (a typo, usually) and every
    known one: the types of CONTRACT §1 in contract order, then the deployment's own, sorted."""
    known = [t.value for t in EventType] + sorted(set(extra_types) - set(EVENT_DATA_MODELS))
    close = difflib.get_close_matches(event_type, known, n=1, cutoff=0.8)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown event type {shown(event_type)}{hint}; must be {one_of(known)}"


def _key_problem(key: object) -> str | None:
    if not isinstance(key, str):
        return "must be a string"
    if key.startswith("$"):
        return "a key must not start with '$': a document store (MongoDB) reads it as an operator"
    if "." in key:
        return "a key must not contain '.': a document store (MongoDB) reads it as a path"
    if "\x00" in key:
        return "a key must not contain the NUL character: a document store (MongoDB) cannot hold it"
    return None


def document_store_key_errors(raw: Mapping[str, Any]) -> list[FieldError]:
    """Every key, at any depth of an envelope (its ``data`` above all), that a document store would
    interpret rather than keep: one starting with ``$`` (an operator, ``$where``), one holding a
    ``.`` (a path) or the NUL character. The record keeps what it was sent, so such keys are refused
    (``data.$where``), the same way by ingest, by reports for its own events and by every consumer."""
    errors: list[FieldError] = []
    queue: deque[tuple[object, str]] = deque([(raw, "")])
    while queue:
        node, path = queue.popleft()
        if isinstance(node, Mapping):
            for key, child in node.items():
                where = f"{path}.{key}" if path else str(key)
                problem = _key_problem(key)
                if problem is not None:
                    errors.append(FieldError(where, problem))
                queue.append((child, where))
        elif isinstance(node, list):
            queue.extend((child, f"{path}[{index}]") for index, child in enumerate(node))
    return errors


def validate_event(raw: object, extra_types: frozenset[str] = frozenset()) -> CloudEvent:
    """Validate one envelope and return it normalised; raise :class:`EventValidationError`.

    Every problem is reported, for the envelope and for ``data`` alike.
    """
    if not isinstance(raw, Mapping):
        raise EventValidationError([FieldError("(envelope)", "must be a JSON object")])
    errors: list[FieldError] = document_store_key_errors(raw)
    envelope: CloudEvent | None = None
    try:
        envelope = CloudEvent.model_validate(raw)
    except ValidationError as exc:
        errors.extend(_errors_from(exc, ""))

    event_type = raw.get("type")
    known = isinstance(event_type, str) and (event_type in EVENT_DATA_MODELS or event_type in extra_types)
    if isinstance(event_type, str) and not known:
        errors = [e for e in errors if e.field != "type"]
        errors.append(FieldError("type", unknown_type_message(event_type, extra_types)))
    data = raw.get("data", {})
    normalised_data: dict[str, Any] | None = None
    if isinstance(data, Mapping) and isinstance(event_type, str) and event_type in EVENT_DATA_MODELS:
        try:
            EVENT_DATA_MODELS[event_type].model_validate(data)
            normalised_data = dict(data)
            if event_type in _SEVERITY_TYPES and normalised_data.get("severity") is not None:
                normalised_data["severity"] = normalise_severity(normalised_data["severity"])
        except ValidationError as exc:
            errors.extend(_errors_from(exc, "data"))
    if errors:
        raise EventValidationError(_dedupe(errors))
    assert envelope is not None
    if normalised_data is not None:
        envelope = envelope.model_copy(update={"data": normalised_data})
    return envelope


def _dedupe(errors: list[FieldError]) -> list[FieldError]:
    seen: set[tuple[str, str]] = set()
    out = []
    for error in errors:
        key = (error.field, error.message)
        if key not in seen:
            seen.add(key)
            out.append(error)
    return out
