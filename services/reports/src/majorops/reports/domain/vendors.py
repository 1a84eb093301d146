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

from majorops.reports.domain.timeline import review_fold
from majorops.shared.decisions import UtcTime
from majorops.shared.events import (
    CloudEvent,
    EventType,
    VendorEngaged,
    VendorRcaCommitted,
    VendorRcaReceived,
    VendorResponded,
    parse_rfc3339,
)
from majorops.shared.record import EventFold, TypedEvent, vendor_key

__all__ = ["VENDOR_READERS", "VendorRecord", "response_minutes", "summarise_vendors"]


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


def _vendor(folds: dict[str, _VendorFold], name: str) -> _VendorFold:
    name = name.strip()
    return folds.setdefault(vendor_key(name), _VendorFold(name=name))


def _engaged(folds: dict[str, _VendorFold], read: TypedEvent[VendorEngaged]) -> None:
    fold = _vendor(folds, read.data.vendor)
    fold.engaged.append(read.event.occurred_at)
    if read.data.response_sla_minutes is not None:
        fold.sla_minutes = read.data.response_sla_minutes


def _responded(folds: dict[str, _VendorFold], read: TypedEvent[VendorResponded]) -> None:
    _vendor(folds, read.data.vendor).responded.append(read.event.occurred_at)


def _rca_committed(folds: dict[str, _VendorFold], read: TypedEvent[VendorRcaCommitted]) -> None:
    # A re-committed date replaces the earlier one: the latest promise is the one to chase.
    _vendor(folds, read.data.vendor).rca_due = parse_rfc3339(read.data.due)


def _rca_received(folds: dict[str, _VendorFold], read: TypedEvent[VendorRcaReceived]) -> None:
    fold = _vendor(folds, read.data.vendor)
    fold.received.append(read.event.occurred_at)
    if read.data.url is not None and read.data.url.strip():
        fold.url = read.data.url


VENDOR_READERS: EventFold[dict[str, _VendorFold]] = review_fold(
    {
        EventType.VENDOR_ENGAGED: _engaged,
        EventType.VENDOR_RESPONDED: _responded,
        EventType.VENDOR_RCA_COMMITTED: _rca_committed,
        EventType.VENDOR_RCA_RECEIVED: _rca_received,
    }
)
"""What each ``vendor.*`` event contributes to its vendor's record, keyed by :func:`vendor_key`."""


def summarise_vendors(events: Iterable[CloudEvent]) -> list[VendorRecord]:
    """Every vendor named by a ``vendor.*`` event, in order of first appearance.

    ``events`` must be in record order (event time, ties by arrival): the latest committed RCA
    date and the latest stated SLA win; the first engagement, response and receipt count.
    """
    folds = VENDOR_READERS.read_all({}, events)
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
