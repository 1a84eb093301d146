"""The words both renderings of the Learning Review use (Markdown and HTML): section titles, the
guiding question, deadline and role labels, and how times and flags read."""

from __future__ import annotations

from datetime import UTC, datetime

SECTION_TITLES: tuple[str, ...] = (
    "Incident Summary",
    "Timeline",
    "Root Cause",
    "What Went Well",
    "What We Are Changing",
    "Learning Statements",
    "Action Items",
)
"""The seed's seven numbered sections of the Learning Review, in order."""

GUIDING_QUESTION = (
    'The question is never "who made a mistake." '
    'The question is always "what did we learn, and what do we change?"'
)

DEADLINE_LABELS: tuple[tuple[str, str], ...] = (
    ("schedule_by", "After Action scheduled by"),
    ("hold_by", "After Action held by"),
    ("draft_due", "Draft distributed by"),
    ("publish_by", "Learning Review published by"),
    ("action_review_at", "Action items reviewed at"),
)

ROLE_LABELS: dict[str, str] = {
    "mim": "MIM (chair)",
    "technical_recovery_lead": "Technical recovery lead",
    "track_lead": "Track lead",
    "sme": "SME",
    "vendor_representative": "Vendor representative",
    "customer_comms_lead": "Customer communications lead",
    "security": "Security / compliance",
    "service_manager": "Service manager",
    "engineering_director": "Engineering director",
}


def role_label(role: str) -> str:
    """A role as people read it ("technical_recovery_lead" → "Technical recovery lead")."""
    return ROLE_LABELS.get(role, role.replace("_", " ").capitalize())


def format_when(value: datetime | None) -> str:
    """A time in UTC for readers (``2026-11-20 09:14:00 UTC``); ``—`` when unknown."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def yes_no(value: bool | None) -> str:
    """A flag as people read it: ``yes``, ``no``, or ``unknown`` when the record does not say."""
    return "unknown" if value is None else ("yes" if value else "no")
