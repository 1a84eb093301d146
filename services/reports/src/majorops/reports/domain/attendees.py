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
(its ``lead``). A role or track with nobody assigned still appears, with ``person`` ``None``, so
the gap is visible on the invitation list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from majorops.reports.domain.timeline import review_fold
from majorops.shared.events import CloudEvent, EventType, RoleAssigned, TrackOpened, VendorEngaged
from majorops.shared.record import EventFold, TypedEvent, vendor_key

MIM = "mim"
TECHNICAL_RECOVERY_LEAD = "technical_recovery_lead"
TRACK_LEAD = "track_lead"
SME = "sme"
VENDOR_REPRESENTATIVE = "vendor_representative"
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


@dataclass
class _Roster:
    """Who holds what, folded from the record in order (later assignments replace earlier ones)."""

    latest: dict[str, str] = field(default_factory=dict)
    tracks_opened: list[str] = field(default_factory=list)
    track_leads: dict[str, str] = field(default_factory=dict)
    track_smes: dict[str, list[str]] = field(default_factory=dict)
    vendor_reps: dict[str, str] = field(default_factory=dict)
    unattached_vendor_rep: str | None = None
    engaged_vendors: dict[str, str] = field(default_factory=dict)


def _track_opened(roster: _Roster, read: TypedEvent[TrackOpened]) -> None:
    track = read.data.track
    if track not in roster.tracks_opened:
        roster.tracks_opened.append(track)
    if read.data.lead:
        roster.track_leads[track] = read.data.lead


def _role_assigned(roster: _Roster, read: TypedEvent[RoleAssigned]) -> None:
    # Roles are matched as the summary matches them: "MIM" and " mim" are the MIM.
    role, person, track = read.data.role.strip().lower(), read.data.person, read.data.track
    roster.latest[role] = person
    if role == VENDOR_REPRESENTATIVE:
        # Which vendor? An explicit extra ``vendor`` field, else the ``track`` named after it.
        target = (read.data.model_extra or {}).get("vendor") or track
        if target:
            roster.vendor_reps[vendor_key(str(target))] = person
        else:
            roster.unattached_vendor_rep = person
    elif track and role == TRACK_LEAD:
        roster.track_leads[track] = person
    elif track and role == SME:
        smes = roster.track_smes.setdefault(track, [])
        if person not in smes:
            smes.append(person)


def _vendor_engaged(roster: _Roster, read: TypedEvent[VendorEngaged]) -> None:
    name = read.data.vendor.strip()
    roster.engaged_vendors.setdefault(vendor_key(name), name)


ROSTER_READERS: EventFold[_Roster] = review_fold(
    {
        EventType.TRACK_OPENED: _track_opened,
        EventType.ROLE_ASSIGNED: _role_assigned,
        EventType.VENDOR_ENGAGED: _vendor_engaged,
    }
)
"""Who holds what, read in record order (a later assignment replaces an earlier one)."""


def choose_attendees(
    events: Iterable[CloudEvent],
    *,
    customer_impact: bool,
    public_status_update: bool,
    regulatory_exposure: bool,
    vendor_related: bool,
) -> Attendees:
    """The required and optional attendees for the incident (``events`` in record order)."""
    roster = ROSTER_READERS.read_all(_Roster(), events)
    required = [
        Attendee(role=MIM, person=roster.latest.get(MIM), reason="Chairs the After Action"),
        Attendee(
            role=TECHNICAL_RECOVERY_LEAD,
            person=roster.latest.get(TECHNICAL_RECOVERY_LEAD),
            reason="Owns the technical findings",
        ),
    ]
    # Only tracks actually opened count; an SME assigned to a track never opened is not a track.
    for track in roster.tracks_opened:
        reason = f"Recovery track {track}"
        lead = roster.track_leads.get(track)
        smes = [sme for sme in roster.track_smes.get(track, []) if sme != lead]
        if lead is not None or not smes:
            # The seat stays visible (person None) when the track ran with nobody named.
            required.append(Attendee(role=TRACK_LEAD, person=lead, track=track, reason=reason))
        required.extend(Attendee(role=SME, person=sme, track=track, reason=reason) for sme in smes)
    if vendor_related:
        only_one_vendor = len(roster.engaged_vendors) == 1
        for key, name in roster.engaged_vendors.items():
            person = roster.vendor_reps.get(key)
            if person is None and only_one_vendor:
                person = roster.unattached_vendor_rep
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
        optional.append(
            Attendee(role=CUSTOMER_COMMS_LEAD, person=roster.latest.get(CUSTOMER_COMMS_LEAD), reason=why)
        )
    if regulatory_exposure:
        optional.append(
            Attendee(role=SECURITY, person=roster.latest.get(SECURITY), reason="Regulatory exposure")
        )
    return Attendees(required=required, optional=optional)
