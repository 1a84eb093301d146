"""The After Action meeting as a calendar invitation: one iCalendar (RFC 5545) VEVENT per incident.

"Schedule the After Action within 24 hours of closure" (seed): once the record holds an
``afteraction.scheduled`` (or ``rescheduled``) event, the invitation books that meeting for the
attendees the record names (:mod:`majorops.reports.domain.attendees`): the required ones as
``ROLE=REQ-PARTICIPANT``, the optional ones as ``ROLE=OPT-PARTICIPANT``. Its description links
the Learning Review draft and says by when the After Action must be held (``hold_by``).

Calendars match invitations by ``UID`` and keep the one with the highest ``SEQUENCE``: the UID is
one per incident, and the sequence counts the (re)schedule events before the latest, so a
reschedule replaces the meeting in everyone's calendar instead of adding a second one. The
calendar has no ``METHOD``, so ``DTSTAMP`` is when the meeting was last (re)scheduled (RFC 5545
§3.8.7.2): the same record always gives the same bytes. Until the meeting is scheduled there is
no invitation (:func:`meeting_invite` gives ``None``): a guessed time would land in calendars as
if it had been agreed.

Persons are plain strings in the record (a name or a handle), not addresses: one that is an email
address becomes ``mailto:``; any other becomes ``urn:majorops:person:<percent-encoded name>``,
with the name as ``CN``. A role nobody holds is listed in the description instead.

Written here rather than with a library so that the service has no runtime dependency for it:
content lines end with CRLF and are folded at 75 octets (never inside a UTF-8 character), TEXT
values escape ``\\ ; ,`` and line breaks (§3.3.11), parameter values are quoted with RFC 6868's
caret escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from majorops.reports.domain.attendees import Attendee
from majorops.reports.domain.document import LearningReview
from majorops.shared.decisions import format_utc
from majorops.shared.events import EventType

MEETING_LENGTH = timedelta(hours=1)
"""How long the invitation books: the process gives the meeting no length; an hour is the usual."""
PRODUCT_ID = "-//MajorOps//After Action reports//EN"
MAX_LINE_OCTETS = 75
SCHEDULE_TYPES = frozenset({EventType.AFTERACTION_SCHEDULED.short, EventType.AFTERACTION_RESCHEDULED.short})
PERSON_URN = "urn:majorops:person:"

_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
# CONTROL of RFC 5545 §3.1 (any but HTAB): not allowed in TEXT or parameter values.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class MeetingInvite:
    """What the invitation says, taken from the review."""

    incident_id: str
    title: str | None
    meeting_at: datetime
    sequence: int
    """How many times the meeting was (re)scheduled before its latest time."""
    scheduled_at: datetime
    """When the latest (re)schedule happened (the event's time)."""
    review_url: str
    hold_by: datetime | None
    required: tuple[Attendee, ...]
    optional: tuple[Attendee, ...]


def meeting_invite(review: LearningReview, review_url: str) -> MeetingInvite | None:
    """The invitation to the review's After Action meeting; ``None`` while none is scheduled."""
    meeting_at = review.after_action.meeting_at
    schedules = [entry.at for entry in review.timeline if entry.type in SCHEDULE_TYPES]
    if meeting_at is None or not schedules:
        return None
    return MeetingInvite(
        incident_id=review.incident_id,
        title=review.summary.title,
        meeting_at=meeting_at,
        sequence=len(schedules) - 1,
        scheduled_at=schedules[-1],
        review_url=review_url,
        hold_by=review.after_action.deadlines.hold_by,
        required=tuple(review.attendees.required),
        optional=tuple(review.attendees.optional),
    )


def invite_uid(incident_id: str) -> str:
    """The one UID of an incident's After Action meeting, whatever its time."""
    return f"after-action-{incident_id}@majorops"


def render_invite(invite: MeetingInvite) -> str:
    """The invitation as an iCalendar object (``text/calendar``): CRLF lines, folded, escaped."""
    summary = f"After Action: {invite.incident_id}" + (f" {invite.title}" if invite.title else "")
    lines = [
        content_line("BEGIN", "VCALENDAR"),
        content_line("VERSION", "2.0"),
        content_line("PRODID", PRODUCT_ID),
        content_line("CALSCALE", "GREGORIAN"),
        content_line("BEGIN", "VEVENT"),
        content_line("UID", invite_uid(invite.incident_id)),
        content_line("DTSTAMP", ical_time(invite.scheduled_at)),
        content_line("DTSTART", ical_time(invite.meeting_at)),
        content_line("DTEND", ical_time(invite.meeting_at + MEETING_LENGTH)),
        content_line("SEQUENCE", str(invite.sequence)),
        content_line("STATUS", "CONFIRMED"),
        content_line("SUMMARY", escape_text(summary)),
        content_line("DESCRIPTION", escape_text(describe(invite))),
        content_line("URL", invite.review_url, (("VALUE", "URI"),)),
        *(attendee_line(person, role) for person, role in invitees(invite.required, invite.optional)),
        content_line("END", "VEVENT"),
        content_line("END", "VCALENDAR"),
    ]
    return "".join(lines)


def describe(invite: MeetingInvite) -> str:
    """The description: the draft's link, the hold-by deadline, who is asked and who is missing."""
    hold_by = (
        f"Hold the After Action by {format_utc(invite.hold_by)}."
        if invite.hold_by
        else "No hold-by deadline yet: the incident is not closed."
    )
    lines = [
        f"After Action (Learning Review) of incident {invite.incident_id}"
        + (f": {invite.title}" if invite.title else ""),
        f"Draft: {invite.review_url}",
        hold_by,
    ]
    for heading, seats in (("Required", invite.required), ("Optional", invite.optional)):
        named = [f"{seat.person} ({seat_label(seat)})" for seat in seats if seat.person]
        if named:
            lines.append(f"{heading}: {'; '.join(named)}")
    missing = [seat_label(seat) for seat in (*invite.required, *invite.optional) if not seat.person]
    if missing:
        lines.append(f"Nobody named yet as: {'; '.join(missing)}")
    return "\n".join(lines)


def seat_label(seat: Attendee) -> str:
    """``technical recovery lead``, ``sme, track database``, ``vendor representative, Acme``."""
    parts = [seat.role.replace("_", " ")]
    if seat.track:
        parts.append(f"track {seat.track}")
    if seat.vendor:
        parts.append(seat.vendor)
    return ", ".join(parts)


def invitees(required: Sequence[Attendee], optional: Sequence[Attendee]) -> list[tuple[str, str]]:
    """Each named person once, with ``REQ-PARTICIPANT`` if any required seat is theirs."""
    roles: dict[str, str] = {}
    for seats, role in ((required, "REQ-PARTICIPANT"), (optional, "OPT-PARTICIPANT")):
        for seat in seats:
            if seat.person and seat.person.strip():
                roles.setdefault(seat.person, role)
    return list(roles.items())


def attendee_line(person: str, role: str) -> str:
    return content_line(
        "ATTENDEE",
        calendar_address(person),
        (("CN", person), ("ROLE", role), ("PARTSTAT", "NEEDS-ACTION")),
    )


def calendar_address(person: str) -> str:
    """A person of the record as a CAL-ADDRESS (a URI): ``mailto:`` for an email address."""
    stripped = person.strip()
    if _EMAIL.match(stripped):
        return f"mailto:{stripped}"
    return PERSON_URN + quote(stripped, safe="")


# --- RFC 5545 content lines -----------------------------------------------------------------


def ical_time(moment: datetime) -> str:
    """A DATE-TIME in UTC ("form #2", §3.3.5): ``20261122T100000Z``."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    """A TEXT value (§3.3.11): backslash, semicolon, comma and line breaks escaped; other control
    characters (not allowed in TEXT) dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
    return _CONTROL.sub("", value)


def param_value(value: str) -> str:
    """A quoted parameter value: RFC 6868 carets for ``^``, line breaks and ``"`` (which RFC 5545
    cannot quote); other control characters dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("^", "^^").replace("\n", "^n").replace('"', "^'")
    return '"' + _CONTROL.sub("", value) + '"'


def content_line(name: str, value: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """``NAME;PARAM=value:value`` with CRLF, folded. Values must be escaped already
    (:func:`escape_text`); parameter values are quoted here when they need it."""
    rendered = "".join(f";{key}={_param(raw)}" for key, raw in params)
    return fold(f"{name}{rendered}:{value}") + "\r\n"


def _param(value: str) -> str:
    # Quoted only when it must be (§3.2: ``:``, ``;``, ``,``), or has anything beyond plain ASCII.
    if re.fullmatch(r"[A-Za-z0-9_.\-]*", value):
        return value
    return param_value(value)


def fold(line: str) -> str:
    """Fold a content line (§3.1): at most 75 octets per line, continuation lines starting with a
    space, never splitting a UTF-8 character."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        octets = len(char.encode())
        if size + octets > MAX_LINE_OCTETS:
            out.append("".join(current))
            current, size = [" "], 1
        current.append(char)
        size += octets
    out.append("".join(current))
    return "\r\n".join(out)
