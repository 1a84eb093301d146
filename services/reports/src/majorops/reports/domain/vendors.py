"""Vendors in the Learning Review: engagement, response against SLA, RCA commitment (seed "Vendor After Actions").

The review documents when each vendor was engaged, how fast it responded against its stated SLA,
and the open items pending from it "with a committed date, not 'waiting on them'".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from majorops.shared.decisions import UtcTime
from majorops.shared.events import CloudEvent, EventType, parse_rfc3339

_VENDOR_TYPES = frozenset(
    {
        EventType.VENDOR_ENGAGED,
        EventType.VENDOR_RESPONDED,
        EventType.VENDOR_RCA_COMMITTED,
        EventType.VENDOR_RCA_RECEIVED,
    }
)


class VendorRecord(BaseModel):
    """One vendor as the review reports it (CONTRACT §5 ``vendors``)."""

    model_config = ConfigDict(frozen=True)

    vendor: str
    engaged_at: UtcTime | None = None
    responded_at: UtcTime | None = None
    response_sla_minutes: int | None = None
    response_minutes: int | None = None
    """Minutes from engagement to first response, rounded up (30 min 1 s counts as 31)."""
    sla_met: bool | None = None
    """``None`` while the SLA or the response is unknown."""
    rca_due: UtcTime | None = None
    rca_received_at: UtcTime | None = None
    url: str | None = None

    @property
    def engaged(self) -> bool:
        return self.engaged_at is not None

    @property
    def rca_open_without_date(self) -> bool:
        """An engaged vendor with no committed RCA date and no RCA received: "waiting on them"."""
        return self.engaged and self.rca_due is None and self.rca_received_at is None


def vendor_key(name: str) -> str:
    """Vendors are matched by name regardless of case and surrounding spaces ("AWS" = "aws ")."""
    return name.strip().casefold()


@dataclass
class _VendorFold:
    name: str
    engaged: list[datetime] = field(default_factory=list)
    responded: list[datetime] = field(default_factory=list)
    sla_minutes: int | None = None
    rca_due: datetime | None = None
    received: list[datetime] = field(default_factory=list)
    url: str | None = None


def response_minutes(engaged_at: datetime, responded_at: datetime) -> int:
    """Whole minutes from engagement to response, rounded up so it never flatters the vendor."""
    return math.ceil((responded_at - engaged_at).total_seconds() / 60)


def summarise_vendors(events: Iterable[CloudEvent]) -> list[VendorRecord]:
    """Every vendor named by a ``vendor.*`` event, in order of first appearance.

    ``events`` must be in record order (event time, ties by arrival): the latest committed RCA
    date and the latest stated SLA win; the first engagement, response and receipt count.
    """
    folds: dict[str, _VendorFold] = {}
    for event in events:
        if event.type not in _VENDOR_TYPES:
            continue
        name = str(event.data.get("vendor", "")).strip()
        fold = folds.setdefault(vendor_key(name), _VendorFold(name=name))
        at = event.occurred_at
        if event.type == EventType.VENDOR_ENGAGED:
            fold.engaged.append(at)
            sla = event.data.get("response_sla_minutes")
            if isinstance(sla, int):
                fold.sla_minutes = sla
        elif event.type == EventType.VENDOR_RESPONDED:
            fold.responded.append(at)
        elif event.type == EventType.VENDOR_RCA_COMMITTED:
            # A re-committed date replaces the earlier one: the latest promise is the one to chase.
            fold.rca_due = parse_rfc3339(event.data["due"])
        else:
            fold.received.append(at)
            url = event.data.get("url")
            if isinstance(url, str) and url.strip():
                fold.url = url
    return [_record(fold) for fold in folds.values()]


def _record(fold: _VendorFold) -> VendorRecord:
    engaged_at = min(fold.engaged) if fold.engaged else None
    responded_at = min(fold.responded) if fold.responded else None
    minutes = (
        response_minutes(engaged_at, responded_at)
        if engaged_at is not None and responded_at is not None
        else None
    )
    sla_met = minutes <= fold.sla_minutes if minutes is not None and fold.sla_minutes is not None else None
    return VendorRecord(
        vendor=fold.name,
        engaged_at=engaged_at,
        responded_at=responded_at,
        response_sla_minutes=fold.sla_minutes,
        response_minutes=minutes,
        sla_met=sla_met,
        rca_due=fold.rca_due,
        rca_received_at=min(fold.received) if fold.received else None,
        url=fold.url,
    )
