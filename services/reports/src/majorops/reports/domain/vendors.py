"""Vendors in the Learning Review: engagement, response against SLA, RCA commitment (seed "Vendor After Actions").

The review documents when each vendor was engaged, how fast it responded against its stated SLA,
and the open items pending from it "with a committed date, not 'waiting on them'".
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from majorops.reports.domain.timeline import Readable, as_incident
from majorops.shared.decisions import UtcTime
from majorops.shared.incident.model import Vendor

__all__ = ["VendorRecord", "response_minutes", "summarise_vendors"]


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


def response_minutes(engaged_at: datetime, responded_at: datetime) -> int:
    """Whole minutes from engagement to response, rounded up so it never flatters the vendor."""
    return math.ceil((responded_at - engaged_at).total_seconds() / 60)


def summarise_vendors(record: Readable) -> list[VendorRecord]:
    """Every vendor the incident names, in order of first mention: the first engagement, response
    and receipt count, the latest stated SLA and the latest committed RCA date win."""
    return [_record(vendor) for vendor in as_incident(record).vendors]


def _record(vendor: Vendor) -> VendorRecord:
    engaged_at, responded_at, sla = vendor.engaged_at, vendor.responded_at, vendor.response_sla_minutes
    minutes = (
        response_minutes(engaged_at, responded_at)
        if engaged_at is not None and responded_at is not None
        else None
    )
    return VendorRecord(
        vendor=vendor.name,
        engaged_at=engaged_at,
        responded_at=responded_at,
        response_sla_minutes=sla,
        response_minutes=minutes,
        sla_met=minutes <= sla if minutes is not None and sla is not None else None,
        rca_due=vendor.rca_due,
        rca_received_at=vendor.rca_received_at,
        url=vendor.rca_url,
    )
