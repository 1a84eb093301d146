"""MAJOROPS_ESCALATION_INTERVAL as an operator writes it: ISO 8601 durations or seconds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from majorops.reminders.domain.interval import DEFAULT_ESCALATION_INTERVAL, parse_escalation_interval


def test_the_default_is_the_contract_s_24_h() -> None:
    assert DEFAULT_ESCALATION_INTERVAL == timedelta(hours=24)


@pytest.mark.parametrize(
    ("value", "interval"),
    [
        ("P1D", timedelta(days=1)),
        ("PT24H", timedelta(hours=24)),
        ("PT2S", timedelta(seconds=2)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("P1W", timedelta(weeks=1)),
        ("PT90M", timedelta(minutes=90)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("PT1,5H", timedelta(minutes=90)),
        ("P1DT12H", timedelta(hours=36)),
        ("  pt24h ", timedelta(hours=24)),
        ("+PT1H", timedelta(hours=1)),
        ("86400", timedelta(days=1)),
        ("2.5", timedelta(seconds=2.5)),
        (".25", timedelta(milliseconds=250)),
        (3600, timedelta(hours=1)),
        (0.75, timedelta(milliseconds=750)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_accepted_values(value: str | float | timedelta, interval: timedelta) -> None:
    assert parse_escalation_interval(value) == interval


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("0", "must be greater than zero"),
        ("0.0", "must be greater than zero"),
        ("PT0S", "must be greater than zero"),
        ("P0D", "must be greater than zero"),
        ("-5", "must be greater than zero"),
        ("-PT1H", "must be greater than zero"),
        (0, "must be greater than zero"),
        (-1.5, "must be greater than zero"),
        (timedelta(0), "must be greater than zero"),
        ("P1M", "years or months, which have no fixed length"),
        ("P1Y2D", "years or months, which have no fixed length"),
        ("P", "names no amount of time"),
        ("PT", "names no amount of time"),
        ("P1DT", "has a 'T' with no hours, minutes or seconds"),
        ("P1.5DT2H", "only the last component may have a fraction (the days have one)"),
        ("PT1H1H", "is not readable"),
        ("PT5M1H", "is not readable"),
        ("1h", "is not readable"),
        ("24 hours", "is not readable"),
        ("nan", "is not readable"),
        ("inf", "is not readable"),
        ("1e3", "is not readable"),
        (float("nan"), "is not a finite number of seconds"),
        (float("inf"), "is not a finite number of seconds"),
        (True, "is not a duration"),
        ("0.0000001", "shorter than a microsecond"),
        ("P99999999999D", "is too large"),
    ],
)
def test_refused_values_say_which_and_why(value: str | float | timedelta, why: str) -> None:
    with pytest.raises(ValueError, match="escalation interval") as info:
        parse_escalation_interval(value)
    assert why in str(info.value)
    if isinstance(value, str) and value.strip():
        assert repr(value) in str(info.value)  # the operator sees the value they wrote
