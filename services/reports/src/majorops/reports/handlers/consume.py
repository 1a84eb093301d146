"""Consuming: what the events, decisions and escalations streams deliver is stored once, and the
incidents it changes are marked for the assembler (:mod:`majorops.reports.handlers.materialise`).

One shape for the three streams (:func:`record`): read the payload (an invalid one is poison),
store it idempotently, mark its incident changed, log whether it was new. What differs per stream
is a :class:`Consumed` value, not another copy of that path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from pydantic import ValidationError

from majorops.reports.domain.follow_up import alert_fire_of
from majorops.reports.ports import ReportsPorts, ReviewStore
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.events import CloudEvent, EventValidationError, validate_event
from majorops.shared.outcomes import PoisonMessage, valid_events
from majorops.shared.storage.eventlog import StoredEvent

log = structlog.get_logger(__name__)

P = TypeVar("P", CloudEvent, AfterActionDecision, Escalation)
Payload = TypeVar("Payload", AfterActionDecision, Escalation)


@dataclass(frozen=True)
class Consumed(Generic[P]):
    """One consumed stream: how its message is read, and how it is kept."""

    read: Callable[[Any, ReportsPorts], P]
    """The message as its contract model; raises :class:`PoisonMessage` when it is not valid."""
    keep: Callable[[P, int, ReportsPorts], Awaitable[bool]]
    """Store it (with its arrival), mark what it changes; True when it is new (or the latest)."""


async def record(kind: Consumed[P], body: Any, ports: ReportsPorts, arrival: int = 0) -> bool:
    """Keep one consumed message of ``kind``; True when it is new. An invalid one is poison."""
    return await kind.keep(kind.read(body, ports), arrival, ports)


# --- events ---------------------------------------------------------------------------------


def _event_or_poison(body: Any, ports: ReportsPorts) -> CloudEvent:
    try:
        return validate_event(body, ports.extra_types)
    except EventValidationError as exc:
        raise PoisonMessage(f"invalid event envelope: {exc}") from exc


async def apply_event(event: CloudEvent, arrival: int, ports: ReportsPorts) -> bool:
    """Store a valid event, index it if it is an alert fire, and mark the reviews it changes.

    A redelivered event is marked again too: that heals a crash between storing and marking.
    """
    return (await apply_events([(event, arrival)], ports))[0]


async def apply_events(events: Sequence[tuple[CloudEvent, int]], ports: ReportsPorts) -> list[bool]:
    """:func:`apply_event` for a batch: stored in one write, each review marked changed once."""
    store = ports.store
    new_flags = await store.append_events(
        [StoredEvent.from_event(event, arrival) for event, arrival in events]
    )
    changed: dict[str, None] = {}
    for event, _ in events:
        fire = alert_fire_of(event)
        if fire is not None:
            await store.record_alert_fire(fire)
            # A fire may put a completed action item of another (published) review in doubt.
            for other in await store.incidents_to_recheck(fire.key, fire.fired_at):
                changed[other] = None
        changed[event.incident_id] = None
    for incident_id in changed:
        await store.mark_changed(incident_id)
    for (event, _), new in zip(events, new_flags, strict=True):
        log.info(
            "reports.event_recorded" if new else "reports.event_duplicate",
            incident_id=event.incident_id,
            event_id=event.id,
            type=event.type,
        )
    return new_flags


async def record_events(
    messages: Sequence[tuple[Any, int]], ports: ReportsPorts
) -> list[BaseException | None]:
    """:func:`record` of :data:`EVENT` for a fetched batch of ``(envelope, arrival)``, stored in
    one write. Per message ``None`` (done), a :class:`PoisonMessage`, or the store's error (retried)."""
    outcomes, valid = valid_events(messages, ports.extra_types)
    if valid:
        try:
            await apply_events([(event, messages[index][1]) for index, event in valid], ports)
        except Exception as exc:
            for index, _ in valid:
                outcomes[index] = exc
    return outcomes


# --- decisions and escalations ----------------------------------------------------------------


def _model_or_poison(model: type[Payload], what: str) -> Callable[[Any, ReportsPorts], Payload]:
    def read(body: Any, _: ReportsPorts) -> Payload:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise PoisonMessage(f"invalid {what}: {_first_errors(exc)}") from exc

    return read


def _saved_once(
    save: Callable[[ReviewStore, Payload], Awaitable[bool]],
    logged: tuple[str, str],
    detail: Callable[[Payload], dict[str, Any]],
) -> Callable[[Payload, int, ReportsPorts], Awaitable[bool]]:
    """Keep a payload with ``save`` (True: new), mark its incident, log ``logged`` (new, not new)."""

    async def keep(payload: Payload, _arrival: int, ports: ReportsPorts) -> bool:
        new = await save(ports.store, payload)
        await ports.store.mark_changed(payload.incident_id)
        log.info(logged[0] if new else logged[1], incident_id=payload.incident_id, **detail(payload))
        return new

    return keep


def _first_errors(exc: ValidationError, limit: int = 5) -> str:
    errors = exc.errors(include_url=False)[:limit]
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in errors)


EVENT: Consumed[CloudEvent] = Consumed(read=_event_or_poison, keep=apply_event)
"""An event of the events stream; stored once per id."""

DECISION: Consumed[AfterActionDecision] = Consumed(
    read=_model_or_poison(AfterActionDecision, "After Action decision"),
    keep=_saved_once(
        lambda store, decision: store.save_decision(decision),
        ("reports.decision_recorded", "reports.decision_superseded"),
        lambda decision: {"revision": decision.revision},
    ),
)
"""Policy's decision; kept when it is the incident's highest revision."""

ESCALATION: Consumed[Escalation] = Consumed(
    read=_model_or_poison(Escalation, "escalation"),
    keep=_saved_once(
        lambda store, escalation: store.save_escalation(escalation),
        ("reports.escalation_recorded", "reports.escalation_duplicate"),
        lambda escalation: {"escalation_id": escalation.escalation_id},
    ),
)
"""An escalation of reminders; stored once per ``escalation_id``."""
