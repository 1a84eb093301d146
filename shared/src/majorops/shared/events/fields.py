"""The field types of the event contract: severities, times and dates, text (CONTRACT §1).

Each is checked on its own, with a message that names every accepted form, so that an envelope's
problems can be listed field by field (see :mod:`majorops.shared.events.validation`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictFloat, StrictInt, StrictStr
from pydantic_core import PydanticCustomError

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
