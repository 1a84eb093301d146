"""Reports use cases: record what the streams deliver, and read an incident's Learning Review."""

from __future__ import annotations

from typing import Any

import structlog
from majorops.reports.domain.timeline import (
    RecordedEvent,
    build_timeline,
    review_status,
    summarize_incident,
)
from majorops.reports.ports import ReviewStore
from majorops.shared.decisions import AfterActionDecision, Deadlines
from majorops.shared.escalations import Escalation
from majorops.shared.events import EventValidationError, validate_event
from majorops.shared.jetstream import PoisonMessage
from majorops.shared.storage.eventlog import StoredEvent
from pydantic import ValidationError

log = structlog.get_logger(__name__)


async def record_event(
    body: Any, arrival: int, store: ReviewStore, extra_types: frozenset[str] = frozenset()
) -> bool:
    """Store one event of the events stream; True when it is new. An invalid envelope is poison."""
    try:
        event = validate_event(body, extra_types)
    except EventValidationError as exc:
        raise PoisonMessage(f"invalid event envelope: {exc}") from exc
    new = await store.append_event(StoredEvent.from_event(event, arrival))
    log.info(
        "reports.event_recorded" if new else "reports.event_duplicate",
        incident_id=event.incident_id,
        event_id=event.id,
        type=event.type,
    )
    return new


async def record_decision(body: Any, store: ReviewStore) -> bool:
    """Keep policy's decision if it is the incident's highest revision. An invalid payload is poison."""
    try:
        decision = AfterActionDecision.model_validate(body)
    except ValidationError as exc:
        raise PoisonMessage(f"invalid After Action decision: {_first_errors(exc)}") from exc
    latest = await store.save_decision(decision)
    log.info(
        "reports.decision_recorded" if latest else "reports.decision_superseded",
        incident_id=decision.incident_id,
        revision=decision.revision,
    )
    return latest


async def record_escalation(body: Any, store: ReviewStore) -> bool:
    """Store one escalation once per id. An invalid payload is poison."""
    try:
        escalation = Escalation.model_validate(body)
    except ValidationError as exc:
        raise PoisonMessage(f"invalid escalation: {_first_errors(exc)}") from exc
    new = await store.save_escalation(escalation)
    log.info(
        "reports.escalation_recorded" if new else "reports.escalation_duplicate",
        incident_id=escalation.incident_id,
        escalation_id=escalation.escalation_id,
    )
    return new


async def read_review(incident_id: str, store: ReviewStore) -> dict[str, Any] | None:
    """The incident's Learning Review as JSON, or None when nothing of the incident is known."""
    if not await store.knows_incident(incident_id):
        return None
    events = [RecordedEvent(stored.event(), stored.arrival) for stored in await store.events_for(incident_id)]
    decision = await store.latest_decision(incident_id)
    escalations = await store.escalations_for(incident_id)
    summary = summarize_incident(incident_id, events).as_dict()
    del summary["incident_id"]  # already at the top of the review
    return {
        "incident_id": incident_id,
        "status": review_status(events).value,
        "summary": summary,
        "timeline": [entry.as_dict() for entry in build_timeline(events)],
        "after_action": after_action_section(decision),
        "escalations": [escalation_entry(e) for e in escalations],
    }


def after_action_section(decision: AfterActionDecision | None) -> dict[str, Any]:
    """The latest decision's requirement, reasons and deadlines; null fields until policy decided."""
    if decision is None:
        return {
            "requirement": None,
            "revision": None,
            "reasons": [],
            "repeat_of": [],
            "deadlines": Deadlines().model_dump(mode="json"),
        }
    return {
        "requirement": decision.requirement.value,
        "revision": decision.revision,
        "reasons": [reason.model_dump(mode="json") for reason in decision.reasons],
        "repeat_of": list(decision.repeat_of),
        "deadlines": decision.deadlines.model_dump(mode="json"),
    }


def escalation_entry(escalation: Escalation) -> dict[str, Any]:
    return escalation.model_dump(mode="json", include=_ESCALATION_FIELDS)


_ESCALATION_FIELDS = {
    "escalation_id",
    "kind",
    "level",
    "item",
    "due_at",
    "fired_at",
    "notify",
    "message",
}


def _first_errors(exc: ValidationError, limit: int = 5) -> str:
    errors = exc.errors(include_url=False)[:limit]
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in errors)
