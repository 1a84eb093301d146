"""The After Action invitation (RFC 5545), read back by a real iCalendar parser (``icalendar``):
what a calendar would show the people invited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import icalendar
import pytest

from majorops.reports.domain.document import LearningReview
from majorops.reports.domain.invite import (
    MAX_LINE_OCTETS,
    fold,
    invite_uid,
    meeting_invite,
    render_invite,
)

INC = "INC-1042"
URL = "https://reports.example/v1/reviews/INC-1042.html"
HOLD_BY = "2026-11-27T12:00:00Z"


def entry(at: str, type_: str, n: int) -> dict[str, str]:
    return {"at": at, "type": type_, "text": type_, "event_id": f"e{n}"}


def review(*meetings: tuple[str, str], **overrides: Any) -> LearningReview:
    """The review of an incident whose meeting was (re)scheduled: ``(event time, meeting_at)`` each,
    the first as ``afteraction.scheduled``, the others as ``rescheduled``."""
    timeline = [entry("2026-11-20T09:14:00Z", "incident.declared", 0)]
    for n, (at, _) in enumerate(meetings, start=1):
        timeline.append(entry(at, "afteraction.rescheduled" if n > 1 else "afteraction.scheduled", n))
    document: dict[str, Any] = {
        "incident_id": INC,
        "summary": {"title": "Checkout latency", "severity": "critical"},
        "timeline": timeline,
        "after_action": {
            "requirement": "mandatory",
            "deadlines": {"schedule_by": "2026-11-21T12:00:00Z", "hold_by": HOLD_BY},
            "meeting_at": meetings[-1][1] if meetings else None,
            "reschedules": max(len(meetings) - 1, 0),
        },
        "attendees": {
            "required": [
                {"role": "mim", "person": "Dana Reyes"},
                {"role": "technical_recovery_lead", "person": "sam@example.com"},
                {"role": "sme", "person": None, "track": "database"},
            ],
            "optional": [{"role": "customer_comms_lead", "person": "@chris"}],
        },
    }
    return LearningReview.model_validate(document | overrides)


def parsed(review_: LearningReview) -> Any:
    invite = meeting_invite(review_, URL)
    assert invite is not None
    calendar = icalendar.Calendar.from_ical(render_invite(invite))
    (event,) = calendar.walk("VEVENT")
    return event


def attendees(event: Any) -> dict[str, tuple[str, str]]:
    """Each attendee's address with its role and common name."""
    listed = event.get("ATTENDEE", [])
    listed = listed if isinstance(listed, list) else [listed]
    return {str(a): (a.params["ROLE"], a.params["CN"]) for a in listed}


def test_the_meeting_is_booked_for_the_attendees_of_the_record() -> None:
    event = parsed(review(("2026-11-20T13:00:00Z", "2026-11-24T15:00:00Z")))
    assert str(event["UID"]) == invite_uid(INC)
    assert event.decoded("DTSTART") == datetime(2026, 11, 24, 15, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 11, 24, 16, tzinfo=UTC)
    assert event.decoded("DTSTAMP") == datetime(2026, 11, 20, 13, tzinfo=UTC)
    assert event.decoded("SEQUENCE") == 0
    assert str(event["SUMMARY"]) == "After Action: INC-1042 Checkout latency"
    assert attendees(event) == {
        "urn:majorops:person:Dana%20Reyes": ("REQ-PARTICIPANT", "Dana Reyes"),
        "mailto:sam@example.com": ("REQ-PARTICIPANT", "sam@example.com"),
        "urn:majorops:person:%40chris": ("OPT-PARTICIPANT", "@chris"),
    }
    description = str(event["DESCRIPTION"])
    assert f"Draft: {URL}" in description
    assert f"Hold the After Action by {HOLD_BY}." in description
    # A seat nobody holds cannot be invited: the description says who is missing.
    assert "Nobody named yet as: sme, track database" in description
    assert str(event["URL"]) == URL


def test_a_reschedule_moves_the_same_meeting_with_a_higher_sequence() -> None:
    first = parsed(review(("2026-11-20T13:00:00Z", "2026-11-24T15:00:00Z")))
    moved = parsed(
        review(
            ("2026-11-20T13:00:00Z", "2026-11-24T15:00:00Z"),
            ("2026-11-21T09:00:00Z", "2026-11-25T10:30:00Z"),
            ("2026-11-22T09:00:00Z", "2026-11-26T10:30:00+01:00"),
        )
    )
    assert str(moved["UID"]) == str(first["UID"])
    assert (first.decoded("SEQUENCE"), moved.decoded("SEQUENCE")) == (0, 2)
    assert moved.decoded("DTSTART") == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert moved.decoded("DTSTAMP") == datetime(2026, 11, 22, 9, tzinfo=UTC)


def test_no_invitation_before_the_meeting_is_scheduled() -> None:
    assert meeting_invite(review(), URL) is None


def test_a_person_in_two_seats_is_invited_once_as_required() -> None:
    both = review(
        ("2026-11-20T13:00:00Z", "2026-11-24T15:00:00Z"),
        attendees={
            "required": [{"role": "mim", "person": "Dana Reyes"}],
            "optional": [{"role": "security", "person": "Dana Reyes"}],
        },
    )
    assert attendees(parsed(both)) == {"urn:majorops:person:Dana%20Reyes": ("REQ-PARTICIPANT", "Dana Reyes")}


HOSTILE = 'Ünïcødé "quoted", semi; back\\slash\nnew line ✅' * 3


def test_hostile_text_is_escaped_folded_and_read_back_as_written() -> None:
    hostile = review(
        ("2026-11-20T13:00:00Z", "2026-11-24T15:00:00Z"),
        summary={"title": HOSTILE},
        attendees={"required": [{"role": "mim", "person": HOSTILE}], "optional": []},
    )
    invite = meeting_invite(hostile, URL)
    assert invite is not None
    text = render_invite(invite)
    raw = text.encode()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    for line in raw.split(b"\r\n"):
        assert len(line) <= MAX_LINE_OCTETS
        line.decode()  # no UTF-8 character split across a fold
    event = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == f"After Action: {INC} {HOSTILE}"
    assert f"{INC}: {HOSTILE}" in str(event["DESCRIPTION"])
    assert list(attendees(event).values()) == [("REQ-PARTICIPANT", HOSTILE)]


@pytest.mark.parametrize("length", [1, 74, 75, 76, 150, 151, 400])
def test_folding_keeps_every_octet_and_unfolds_to_the_line(length: int) -> None:
    line = ("aé✅" * 200)[:length]
    folded = fold(line)
    assert all(len(part.encode()) <= MAX_LINE_OCTETS for part in folded.split("\r\n"))
    assert all(part.startswith(" ") for part in folded.split("\r\n")[1:])
    assert folded.replace("\r\n ", "") == line


def test_the_same_record_gives_the_same_bytes() -> None:
    meetings = (("2026-11-20T13:00:00Z", "2026-11-24T15:00:00Z"),)
    first, second = meeting_invite(review(*meetings), URL), meeting_invite(review(*meetings), URL)
    assert first is not None and second is not None
    assert render_invite(first) == render_invite(second)
