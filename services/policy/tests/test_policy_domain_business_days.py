"""Adding business days in the organisation's time zone and holiday calendar (CONTRACT §3)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from majorops.policy.domain.business_days import BusinessCalendar


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("timezone", "holidays", "start", "days", "expected"),
    [
        # The contract's own examples.
        ("UTC", None, "2026-11-13T15:00:00+00:00", 5, "2026-11-20T15:00:00+00:00"),  # Friday → Friday
        ("UTC", None, "2026-11-14T10:00:00+00:00", 5, "2026-11-20T10:00:00+00:00"),  # Saturday → Friday
        ("UTC", None, "2026-11-15T10:00:00+00:00", 1, "2026-11-16T10:00:00+00:00"),  # Sunday → Monday
        ("UTC", None, "2026-11-16T23:30:00+00:00", 1, "2026-11-17T23:30:00+00:00"),
        ("UTC", None, "2026-11-20T12:00:00+00:00", 10, "2026-12-04T12:00:00+00:00"),
        # Thanksgiving (Thursday 2026-11-26) inside the window pushes the hold to Monday.
        ("UTC", "US", "2026-11-20T12:00:00+00:00", 5, "2026-11-30T12:00:00+00:00"),
        ("UTC", "US", "2026-11-20T12:00:00+00:00", 10, "2026-12-07T12:00:00+00:00"),
        # Epiphany (Tuesday 2026-01-06) is a holiday in Bavaria, not in Germany as a whole.
        ("Europe/Berlin", "DE-BY", "2026-01-05T09:00:00+01:00", 1, "2026-01-07T09:00:00+01:00"),
        ("Europe/Berlin", "DE", "2026-01-05T09:00:00+01:00", 1, "2026-01-06T09:00:00+01:00"),
        # Europe/Berlin leaves summer time on Sunday 2026-10-25: 15:00 stays 15:00 (13:00Z → 14:00Z).
        ("Europe/Berlin", None, "2026-10-23T15:00:00+02:00", 5, "2026-10-30T15:00:00+01:00"),
        # ... and enters it on Sunday 2026-03-29: 09:00 stays 09:00 (08:00Z → 07:00Z).
        ("Europe/Berlin", None, "2026-03-27T09:00:00+01:00", 1, "2026-03-30T09:00:00+02:00"),
        # Friday 22:00 in New York is already Saturday in UTC: the local date counts.
        ("America/New_York", None, "2026-10-31T02:00:00+00:00", 1, "2026-11-03T03:00:00+00:00"),
        # Zero days: the anchor itself, even on a weekend.
        ("UTC", None, "2026-11-14T10:00:00+00:00", 0, "2026-11-14T10:00:00+00:00"),
    ],
)
def test_add_business_days(timezone: str, holidays: str | None, start: str, days: int, expected: str) -> None:
    calendar = BusinessCalendar(timezone, holidays)
    result = calendar.add_business_days(at(start), days)
    assert result == at(expected)
    assert result.tzinfo is UTC


def test_a_local_time_skipped_by_a_weekday_dst_gap_moves_forward_by_the_gap() -> None:
    # Egypt springs forward on Friday 2024-04-26 at 00:00 → 01:00, so 00:30 never happens that day.
    calendar = BusinessCalendar("Africa/Cairo")
    result = calendar.add_business_days(at("2024-04-25T00:30:00+02:00"), 1)
    assert result == at("2024-04-26T01:30:00+03:00")


def test_a_local_time_repeated_by_a_weekday_dst_change_is_its_first_occurrence() -> None:
    # Egypt falls back at the end of Thursday 2024-10-31 (24:00 → 23:00): 23:30 happens twice.
    calendar = BusinessCalendar("Africa/Cairo")
    result = calendar.add_business_days(at("2024-10-30T23:30:00+03:00"), 1)
    assert result == at("2024-10-31T23:30:00+03:00")


def test_business_days_and_holiday_names() -> None:
    calendar = BusinessCalendar("America/New_York", "US")
    assert calendar.holiday_name(date(2026, 11, 26)) == "Thanksgiving Day"
    assert not calendar.is_business_day(date(2026, 11, 26))
    assert calendar.is_business_day(date(2026, 11, 27))
    assert not calendar.is_business_day(date(2026, 11, 28))
    assert BusinessCalendar().holiday_name(date(2026, 12, 25)) is None


@pytest.mark.parametrize("code", ["us", "de-by", "UK", "  GB  "])
def test_holiday_codes_are_accepted_in_any_case_and_with_aliases(code: str) -> None:
    assert not BusinessCalendar("UTC", code).is_business_day(date(2026, 12, 25))


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_no_holiday_code_means_only_weekends_are_off(blank: str | None) -> None:
    calendar = BusinessCalendar("UTC", blank)
    assert calendar.holidays is None
    assert calendar.is_business_day(date(2026, 12, 25))


@pytest.mark.parametrize(
    ("timezone", "holidays", "message"),
    [
        ("Mars/Olympus_Mons", None, "unknown time zone 'Mars/Olympus_Mons'"),
        ("utc", None, "unknown time zone 'utc'.*case-sensitive"),
        ("Europe", None, "unknown time zone 'Europe'"),
        ("../etc/passwd", None, "unknown time zone"),
        ("", None, "unknown time zone ''"),
        ("UTC", "XX", "unknown holiday calendar 'XX'.*e.g. 'US'"),
        ("UTC", "DE-XX", "unknown holiday calendar 'DE-XX'.*no subdivision 'XX'.*BY"),
    ],
)
def test_unknown_settings_are_refused_with_a_clear_message(
    timezone: str, holidays: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(timezone, holidays)


def test_negative_days_and_naive_times_are_refused() -> None:
    calendar = BusinessCalendar()
    with pytest.raises(ValueError, match="zero or more"):
        calendar.add_business_days(at("2026-11-20T12:00:00+00:00"), -1)
    with pytest.raises(ValueError, match="no UTC offset"):
        calendar.add_business_days(datetime(2026, 11, 20, 12), 1)


def test_calendars_with_the_same_settings_are_equal() -> None:
    assert BusinessCalendar("Europe/Berlin", "de-by") == BusinessCalendar("Europe/Berlin", "de-by")
    assert BusinessCalendar("Europe/Berlin") != BusinessCalendar("Europe/Berlin", "DE")
