"""Every NATS subject, stream and durable consumer name of the system, once (CONTRACT §2–§4)."""

from __future__ import annotations

from typing import Final

from majorops.shared.events import EVENT_TYPE_PREFIX

INGEST_REQUEST: Final = "majorops.ingest"
"""Core NATS request subject: send an envelope (or an array), get ingest's HTTP answer as reply."""
INGEST_QUEUE_GROUP: Final = "majorops-ingest"

EVENTS_ROOT: Final = "majorops.events"
DECISIONS_ROOT: Final = "majorops.decisions"
ESCALATIONS_ROOT: Final = "majorops.escalations"
REMINDERS_ROOT: Final = "majorops.reminders"
DEADLETTER_ROOT: Final = "majorops.deadletter"

ALL_EVENTS: Final = f"{EVENTS_ROOT}.>"
ALL_DECISIONS: Final = f"{DECISIONS_ROOT}.>"
ALL_ESCALATIONS: Final = f"{ESCALATIONS_ROOT}.>"
ALL_REMINDERS: Final = f"{REMINDERS_ROOT}.>"
ALL_DEADLETTERS: Final = f"{DEADLETTER_ROOT}.>"

EVENTS_STREAM: Final = "MAJOROPS_EVENTS"
DECISIONS_STREAM: Final = "MAJOROPS_DECISIONS"
ESCALATIONS_STREAM: Final = "MAJOROPS_ESCALATIONS"
DEADLETTER_STREAM: Final = "MAJOROPS_DEADLETTER"

INGEST_SEEN_BUCKET: Final = "majorops_ingest_seen"
"""JetStream key-value bucket of every event id ingest accepted (idempotency beyond the dup window)."""


def event_subject(incident_id: str, event_type: str) -> str:
    """``majorops.events.<incident_id>.<type without "majorops.">``."""
    return f"{EVENTS_ROOT}.{incident_id}.{event_type.removeprefix(EVENT_TYPE_PREFIX)}"


def decision_subject(incident_id: str) -> str:
    return f"{DECISIONS_ROOT}.{incident_id}"


def escalation_subject(incident_id: str, kind: str) -> str:
    return f"{ESCALATIONS_ROOT}.{incident_id}.{kind}"


def reminder_subject(incident_id: str, kind: str) -> str:
    return f"{REMINDERS_ROOT}.{incident_id}.{kind}"


def deadletter_subject(service: str) -> str:
    """Where a service puts a message it cannot process, with the reason."""
    return f"{DEADLETTER_ROOT}.{service}"


def durable_name(service: str, stream: str) -> str:
    """The one durable pull consumer a service's replicas share on a stream."""
    return f"{service}-{stream.removeprefix('MAJOROPS_').lower()}"
