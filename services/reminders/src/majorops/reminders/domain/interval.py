"""The escalation interval (``MAJOROPS_ESCALATION_INTERVAL``): the time between escalation levels.

Accepted: an ISO 8601 duration in weeks, days, hours, minutes and seconds (``P1D``, ``PT24H``,
``PT2S``, ``P1DT2H30M``, ``PT0.5S``; designators in any case), or a plain number of seconds
(``86400``, ``2.5``). Years and months are refused because they have no fixed length. Zero, negative
and unreadable values are refused with a message that says which value and why.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

DEFAULT_ESCALATION_INTERVAL = timedelta(hours=24)

_EXAMPLES = "an ISO 8601 duration such as PT24H, P1D or P1DT2H30M, or a number of seconds such as 86400"
_SECONDS = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"^(?P<sign>[+-])?P(?:(?P<weeks>{_NUMBER})W)?(?:(?P<days>{_NUMBER})D)?"
    rf"(?P<time>T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?$",
    re.IGNORECASE,
)
_CALENDAR = re.compile(r"^[+-]?P[^T]*?[YM]", re.IGNORECASE)
_UNIT_SECONDS = {"weeks": 604_800, "days": 86_400, "hours": 3_600, "minutes": 60, "seconds": 1}


def parse_escalation_interval(value: str | float | timedelta) -> timedelta:
    """The interval ``value`` stands for; ``ValueError`` saying precisely what is wrong otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"escalation interval {value!r} is not a duration; give {_EXAMPLES}")
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise ValueError(f"escalation interval {value} must be greater than zero")
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"escalation interval {value!r} is not a finite number of seconds")
        return _positive(Decimal(str(value)), value)
    text = value.strip()
    if not text:
        raise ValueError(f"escalation interval is empty; give {_EXAMPLES}")
    if _SECONDS.match(text):
        return _positive(Decimal(text), value)
    if _CALENDAR.match(text):
        raise ValueError(
            f"escalation interval {value!r} uses years or months, which have no fixed length; "
            "give it in weeks, days, hours, minutes or seconds (e.g. P30D)"
        )
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"escalation interval {value!r} is not readable; give {_EXAMPLES}")
    present = [(unit, match[unit]) for unit in _UNIT_SECONDS if match[unit] is not None]
    if not present:
        raise ValueError(f"escalation interval {value!r} names no amount of time; give {_EXAMPLES}")
    if match["time"] is not None and not any(match[u] for u in ("hours", "minutes", "seconds")):
        raise ValueError(
            f"escalation interval {value!r} has a 'T' with no hours, minutes or seconds after it"
        )
    for unit, amount in present[:-1]:
        if "." in amount or "," in amount:
            raise ValueError(
                f"escalation interval {value!r}: only the last component may have a fraction "
                f"(the {unit} have one)"
            )
    total = sum(
        (Decimal(amount.replace(",", ".")) * _UNIT_SECONDS[unit] for unit, amount in present),
        Decimal(0),
    )
    return _positive(-total if match["sign"] == "-" else total, value)


def _positive(seconds: Decimal, raw: object) -> timedelta:
    if seconds <= 0:
        raise ValueError(f"escalation interval {raw!r} must be greater than zero")
    try:
        interval = timedelta(microseconds=int(seconds * 1_000_000))
    except (OverflowError, InvalidOperation) as exc:
        raise ValueError(f"escalation interval {raw!r} is too large") from exc
    if interval <= timedelta(0):
        raise ValueError(f"escalation interval {raw!r} is shorter than a microsecond")
    return interval
