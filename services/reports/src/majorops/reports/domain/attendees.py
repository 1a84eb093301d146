"""Who attends the After Action, from the incident record (CONTRACT §5, seed "Who Attends").

"The MIM decides the attendee list based on the incident record. Attendance is not based on
seniority or org chart proximity." This module proposes that list:

Required
  - the MIM (chairs the After Action);
  - the technical recovery lead (owns the technical findings);
  - for every recovery track opened: its lead and every SME assigned to it;
  - a vendor representative for each engaged vendor, when the root cause is vendor-related.

Optional
  - the customer communications lead, when there was customer impact or a public status update;
  - security, when there was regulatory exposure.

Persons come from ``role.assigned`` (the latest assignment of a role wins) and ``track.opened``
(its ``lead``), as the shared read model (:mod:`majorops.shared.incident`) reads them. A role or track with nobody assigned still appears, with ``person`` ``None``, so
the gap is visible on the invitation list.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from majorops.shared.incident.model import MIM, SME, TRACK_LEAD, VENDOR_REPRESENTATIVE, Incident
from majorops.shared.incident.order import vendor_key

TECHNICAL_RECOVERY_LEAD = "technical_recovery_lead"
CUSTOMER_COMMS_LEAD = "customer_comms_lead"
SECURITY = "security"


class Attendee(BaseModel):
    """One seat at the After Action: a role, the person holding it (or ``None``) and why."""

    model_config = ConfigDict(frozen=True)

    role: str
    person: str | None = None
    track: str | None = None
    vendor: str | None = None
    reason: str = ""


class Attendees(BaseModel):
    model_config = ConfigDict(frozen=True)

    required: list[Attendee] = Field(default_factory=list)
    optional: list[Attendee] = Field(default_factory=list)


def choose_attendees(
    incident: Incident,
    *,
    customer_impact: bool,
    public_status_update: bool,
    regulatory_exposure: bool,
    vendor_related: bool,
) -> Attendees:
    """The required and optional attendees for the incident."""
    roles = incident.roles
    required = [
        Attendee(role=MIM, person=roles.get(MIM), reason="Chairs the After Action"),
        Attendee(
            role=TECHNICAL_RECOVERY_LEAD,
            person=roles.get(TECHNICAL_RECOVERY_LEAD),
            reason="Owns the technical findings",
        ),
    ]
    # Only tracks actually opened count; an SME assigned to a track never opened is not a track.
    for track in incident.tracks:
        reason = f"Recovery track {track.name}"
        smes = [sme for sme in track.smes if sme != track.lead]
        if track.lead is not None or not smes:
            # The seat stays visible (person None) when the track ran with nobody named.
            required.append(Attendee(role=TRACK_LEAD, person=track.lead, track=track.name, reason=reason))
        required.extend(Attendee(role=SME, person=sme, track=track.name, reason=reason) for sme in smes)
    if vendor_related:
        engaged = [vendor.name for vendor in incident.vendors if vendor.engaged_at is not None]
        for name in engaged:
            person = incident.vendor_representatives.get(vendor_key(name))
            if person is None and len(engaged) == 1:
                person = incident.unattached_vendor_representative
            required.append(
                Attendee(
                    role=VENDOR_REPRESENTATIVE,
                    person=person,
                    vendor=name,
                    reason=f"Vendor {name} was engaged and the root cause is vendor-related",
                )
            )
    optional: list[Attendee] = []
    if customer_impact or public_status_update:
        why = "Customer impact" if customer_impact else "A public status update was posted"
        optional.append(Attendee(role=CUSTOMER_COMMS_LEAD, person=roles.get(CUSTOMER_COMMS_LEAD), reason=why))
    if regulatory_exposure:
        optional.append(Attendee(role=SECURITY, person=roles.get(SECURITY), reason="Regulatory exposure"))
    return Attendees(required=required, optional=optional)
