"""Policy use cases: record each incident event, so that the incident's decision can be re-derived."""

from __future__ import annotations

import structlog
from majorops.policy.ports import PolicyStore
from majorops.shared.events import EventValidationError, validate_event
from majorops.shared.jetstream import PoisonMessage
from majorops.shared.storage.eventlog import StoredEvent

log = structlog.get_logger(__name__)


async def record_event(
    raw_envelope: object,
    arrival: int,
    store: PolicyStore,
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
