"""Reminders use cases: record each incident event and each After Action decision.

Both return the incident they touched: its obligations are re-derived from the stored record.
"""

from __future__ import annotations

import structlog
from majorops.reminders.ports import RemindersStore
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.events import EventValidationError, validate_event
from majorops.shared.jetstream import PoisonMessage
from majorops.shared.storage.eventlog import StoredEvent
from pydantic import ValidationError

log = structlog.get_logger(__name__)


async def record_event(
    raw_envelope: object,
    arrival: int,
    store: RemindersStore,
    extra_types: frozenset[str] = frozenset(),
) -> str:
    """Validate an envelope and store it once; return the incident id it belongs to.

    ``arrival`` is the JetStream stream sequence: the order in which events reached the system,
    used to break ties between events of the same time. A redelivered or republished event (same
    id) changes nothing. An invalid envelope raises :class:`PoisonMessage`, as retrying cannot
    make it valid.
    """
    try:
        event = validate_event(raw_envelope, extra_types)
    except EventValidationError as exc:
        raise PoisonMessage(f"invalid event envelope: {exc}") from exc
    with structlog.contextvars.bound_contextvars(incident_id=event.incident_id, event_id=event.id):
        new = await store.append_event(StoredEvent.from_event(event, arrival))
        if new:
            log.info("event.recorded", type=event.type, arrival=arrival)
        else:
            log.info("event.duplicate", type=event.type, arrival=arrival)
    return event.incident_id


async def record_decision(raw_decision: object, store: RemindersStore) -> str:
    """Validate a decision from policy and keep it if it is the newest; return its incident id.

    An older or repeated revision changes nothing. An invalid decision raises
    :class:`PoisonMessage`.
    """
    try:
        decision = AfterActionDecision.model_validate(raw_decision)
    except ValidationError as exc:
        raise PoisonMessage(f"invalid decision: {describe(exc)}") from exc
    with structlog.contextvars.bound_contextvars(incident_id=decision.incident_id):
        if await store.save_decision(decision):
            log.info("decision.recorded", revision=decision.revision, requirement=decision.requirement)
        else:
            log.info("decision.superseded", revision=decision.revision)
    return decision.incident_id


def describe(exc: ValidationError) -> str:
    """Every problem on one line, as ``field: why`` (pydantic's own text spans lines and links)."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(decision)"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)
