"""Business days in the organisation's time zone and holiday calendar (CONTRACT §3).

A business day is a Monday–Friday, in the organisation's time zone, that is not a holiday of the
configured ``holidays`` calendar (observed days included, e.g. a US Independence Day on a Saturday
makes the Friday before a holiday). Deadlines keep the local time of day of their anchor, because
"within 5 business days" of a 15:00 close means 15:00 on the fifth business day to the people
involved, whatever the UTC offset does in between.

Local times that a DST change makes impossible or ambiguous on the landing day are resolved as
PEP 495 ``fold=0`` does, documented and tested:

- a wall time skipped by a spring-forward gap moves forward by the length of the gap
  (00:30 on a day whose clocks jump 00:00 → 01:00 becomes 01:30);
- a wall time that occurs twice in a fall-back change is the first (earlier) occurrence.

Both only matter in zones that change their clocks on a weekday (e.g. ``Africa/Cairo``); most
zones change on a Sunday, which is never a landing day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package

_SATURDAY = 5


def _load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}: expected an IANA time zone name such as 'UTC', "
            "'Europe/Berlin' or 'America/New_York' (names are case-sensitive)"
        ) from None


def _load_holidays(code: str) -> Any:
    country, _, subdivision = code.partition("-")
    country = country.upper()
    supported = holidays_package.list_supported_countries()
    if country not in supported:
        raise ValueError(
            f"unknown holiday calendar {code!r}: {country!r} is not a country code of the 'holidays' "
            "package; expected e.g. 'US', 'GB', 'DE' or a country-subdivision code such as 'DE-BY'"
        )
    if not subdivision:
        return holidays_package.country_holidays(country)
    # Subdivision codes are mostly upper case ("BY"), but a few are names ("Augsburg").
    for candidate in dict.fromkeys((subdivision.upper(), subdivision)):
        if candidate in supported[country]:
            return holidays_package.country_holidays(country, subdiv=candidate)
    known = ", ".join(supported[country]) or "none"
    raise ValueError(
        f"unknown holiday calendar {code!r}: {country!r} has no subdivision {subdivision!r} "
        f"(known subdivisions: {known})"
    )


@dataclass(frozen=True)
class BusinessCalendar:
    """The organisation's working calendar: an IANA time zone and an optional holiday calendar.

    ``holidays`` is a code of the ``holidays`` package: a country (``US``, ``GB``, ``DE``) or a
    country and subdivision (``DE-BY``, ``US-CA``); ``None`` or blank means no holidays. An
    unknown zone or code raises ``ValueError`` with a message fit for a refusal to start.
    """

    timezone: str = "UTC"
    holidays: str | None = None
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _holidays: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Resolved once, so a bad setting fails at construction (service start), not at the
        # first deadline.
        object.__setattr__(self, "zone", _load_zone(self.timezone))
        code = (self.holidays or "").strip()
        object.__setattr__(self, "holidays", code or None)
        object.__setattr__(self, "_holidays", _load_holidays(code) if code else None)

    def holiday_name(self, day: date) -> str | None:
        """The name of the holiday on that local date, if it is one."""
        if self._holidays is None:
            return None
        name = self._holidays.get(day)
        return str(name) if name is not None else None

    def is_business_day(self, day: date) -> bool:
        """Monday–Friday and not a holiday."""
        return day.weekday() < _SATURDAY and self.holiday_name(day) is None

    def local(self, t: datetime) -> datetime:
        """``t`` on the organisation's wall clock."""
        return _aware(t).astimezone(self.zone)

    def add_business_days(self, t: datetime, n: int) -> datetime:
        """``t`` + ``n`` business days, at ``t``'s local time of day, as an aware UTC datetime.

        Steps forward one calendar day at a time from ``t``'s local date, counting only business
        days, until ``n`` are counted (Friday 15:00 + 5 → the next Friday 15:00; Saturday 10:00 + 5
        → the next Friday 10:00). ``n = 0`` returns ``t`` itself. See the module docstring for
        wall times that a DST change makes impossible or ambiguous.
        """
        if n < 0:
            raise ValueError(f"business days to add must be zero or more, got {n}")
        local = self.local(t)
        if n == 0:
            return local.astimezone(UTC)
        day = local.date()
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        landing = datetime.combine(day, local.time().replace(fold=0), tzinfo=self.zone)
        return landing.astimezone(UTC)


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{t.isoformat()} has no UTC offset; deadlines need an aware datetime")
    return t
