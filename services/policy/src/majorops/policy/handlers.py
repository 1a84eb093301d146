"""Policy use cases: record each incident event, re-derive the incident's decision, publish it when it changed.

Exactly one message per revision, gap-free, with several replicas and after ``kill -9``
-----------------------------------------------------------------------------------------
Chosen: per-incident optimistic concurrency in the store, not subject partitioning. Partitioning
(each replica owning a hash range of incident ids) would need a fixed replica count or a
rebalancing protocol, and it would still not cover repeat incidents, where a root cause arriving
for one incident re-derives others that another partition owns. Optimistic concurrency needs
nothing but the store every replica already shares:

1. The event is stored first (idempotent by event id), then its incident's decision is derived.
2. A new revision exists only once a compare-and-set on the incident's latest revision succeeded
   (``UPDATE decisions … WHERE incident_id = ? AND revision = ?``; in SQLite also ``AND
   event_count = ?``, so a decision derived from a view missing an event cannot be stored). Two
   replicas deciding one incident at the same moment: one wins; the other re-reads and derives
   again. A revision number is therefore never used twice nor skipped. Within one process, where
   the batch handler and the sweep of unpublished revisions run concurrently, an incident is also
   decided under a lock, so they do not lose compare-and-sets to each other.
3. The stored revision is published with ``Nats-Msg-Id`` = ``<incident_id>:<revision>``, then
   marked published. A crash (or an unacknowledged publish) between the compare-and-set and the
   mark leaves a stored, unpublished revision. Every derivation first publishes the incident's
   unpublished revision, before a newer one can be stored, so the stream holds revisions in order;
   a start-up and periodic sweep publishes those of incidents that get no further event. The
   publisher appends a revision only if the subject does not hold it yet, atomically (see
   :mod:`majorops.policy.adapters.jetstream`), so publishing it again — minutes later, or from two
   replicas at once — never makes a second message.
4. The event is acknowledged only after all of that: ``kill -9`` at any point leaves either work
   not started (the event is redelivered) or a state that the next handling completes.

Revision 1 is published as soon as an incident has any event, even when it says ``not_required``
on no facts at all: consumers can show that policy has seen the incident and found nothing yet,
and a missing decision keeps meaning "policy has not seen this incident".

Facts without a quadratic refold: :mod:`majorops.policy.facts_cache`.

Repeat incidents
----------------
The store keeps a fingerprint index (one entry per incident with a root cause). Deriving an
incident updates its entry when its root cause changed — unless an entry derived from more of its
events is there, written by a replica that saw more — and looks its earlier repeats up there.
Each derivation writes its own entry before it reads the others, so of two incidents whose root
causes arrive at once on two replicas, at least one sees the other.
When a ``rootcause.identified`` event (or an index change) may change other incidents'
``repeat_of``, those incidents are re-derived too; an ``actionitem.*`` event re-derives the later
repeats of its incident, whose decisions list its open action items. Both are keyed on the event,
not on whether this handling changed the index, so a redelivery after a crash redoes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.domain.decision import derive_decision, open_items_of
from majorops.policy.domain.repeats import (
    RootCauseSighting,
    find_repeat_of,
    incidents_to_reevaluate,
    later_repeats_of,
)
from majorops.policy.facts_cache import IncidentFactsCache, IncidentLocks
from majorops.policy.ports import DecisionPublisher, IndexedRootCause, PolicyStore, StoredDecision
from majorops.shared.decisions import EarlierOpenActionItem
from majorops.shared.events import CloudEvent, EventType
from majorops.shared.outcomes import log_recorded, valid_events
from majorops.shared.storage.eventlog import StoredEvent

log = structlog.get_logger(__name__)

ACTION_ITEM_EVENTS = frozenset(
    {EventType.ACTIONITEM_CREATED, EventType.ACTIONITEM_UPDATED, EventType.ACTIONITEM_COMPLETED}
)
MAX_DECISION_ATTEMPTS = 50
"""Compare-and-set attempts before giving up (the event is then retried later with back-off)."""


class DecisionConflict(RuntimeError):
    """Other replicas kept deciding the incident first; retrying the event later is safe."""


@dataclass(slots=True)
class PolicyPorts:
    """What the handlers work with: the store, the publisher, the calendar and the facts cache."""

    store: PolicyStore
    publisher: DecisionPublisher
    calendar: BusinessCalendar
    facts: IncidentFactsCache
    locks: IncidentLocks = field(default_factory=IncidentLocks)

    @classmethod
    def of(
        cls,
        store: PolicyStore,
        publisher: DecisionPublisher,
        calendar: BusinessCalendar,
        facts_cache_incidents: int = 1024,
    ) -> PolicyPorts:
        """Ports with a fresh facts cache."""
        return cls(store, publisher, calendar, IncidentFactsCache(store, facts_cache_incidents))


@dataclass(frozen=True, slots=True)
class Derivation:
    """What deriving one incident's decision did."""

    incident_id: str
    revision: int
    """The incident's latest revision afterwards (0: no events, no decision)."""
    published: bool
    """True when this derivation stored and published a new revision."""
    sighting: RootCauseSighting | None = None
    indexed_before: IndexedRootCause | None = None
    """The incident's entry in the fingerprint index as this derivation found it."""
    index_changed: bool = False


async def handle_events(
    messages: Sequence[tuple[object, int]],
    ports: PolicyPorts,
    extra_types: frozenset[str] = frozenset(),
) -> list[BaseException | None]:
    """Record a fetched batch of ``(envelope, arrival)`` in one write, then re-derive each incident's
    decision (and those it affects) once for all its events in it, publishing a new revision of each
    decision that changed — also after a duplicate: the handling that stored the event may have
    crashed before deciding. ``arrival`` is the JetStream stream sequence, stored with the event.

    Per message: ``None`` (done), a :class:`PoisonMessage` (invalid envelope), or the error that
    stopped its incident's decision (the message is retried; every step is idempotent). Deciding
    once per batch means one revision for a burst of events where one-by-one handling could have
    published several in a row: each published revision is still the decision of everything stored.
    """
    outcomes, valid = valid_events(messages, extra_types)
    if valid:
        decided = await _record_and_decide([(event, messages[index][1]) for index, event in valid], ports)
        for (index, _), outcome in zip(valid, decided, strict=True):
            outcomes[index] = outcome
    return outcomes


async def _record_and_decide(
    events: Sequence[tuple[CloudEvent, int]], ports: PolicyPorts
) -> list[BaseException | None]:
    """Store valid ``(event, arrival)`` in one write, then decide each incident once (and those its
    events affect); per event ``None`` or the error that stopped it."""
    outcomes: list[BaseException | None] = [None] * len(events)
    try:
        new_flags = await ports.store.append_events(
            [StoredEvent.from_event(event, arrival) for event, arrival in events]
        )
    except Exception as exc:
        return [exc] * len(events)
    by_incident: dict[str, list[tuple[int, CloudEvent]]] = {}
    for index, ((event, arrival), new) in enumerate(zip(events, new_flags, strict=True)):
        if new:
            ports.facts.fold_new_event(event)
        log_recorded(log, event, arrival, new)
        by_incident.setdefault(event.incident_id, []).append((index, event))
    for incident_id, items in by_incident.items():
        with structlog.contextvars.bound_contextvars(incident_id=incident_id):
            try:
                derived = await decide_incident(incident_id, ports)
                affected: set[str] = set()
                for _, event in items:
                    affected.update(await _incidents_affected(event, derived, ports.store))
                # An incident decided earlier in this batch is decided again: the event may change it.
                for other in sorted(affected - {incident_id}):
                    with structlog.contextvars.bound_contextvars(incident_id=other, affected_by=incident_id):
                        await decide_incident(other, ports)
            except Exception as exc:
                log.warning("incident.decision_failed", error=f"{type(exc).__name__}: {exc}")
                for index, _ in items:
                    outcomes[index] = exc
    return outcomes


async def _incidents_affected(event: CloudEvent, derived: Derivation, store: PolicyStore) -> list[str]:
    """Other incidents whose decision this event may change, through the fingerprint index."""
    sighting = derived.sighting
    if sighting is None:
        return []
    affected: set[str] = set()
    if derived.index_changed or event.type == EventType.ROOTCAUSE_IDENTIFIED:
        indexed = derived.indexed_before
        # ``None`` as a "before" means: every other incident sharing the current fingerprint. That
        # is re-done for every root-cause event, so a crash between the index update and these
        # re-derivations is repaired by the event's redelivery.
        befores: list[RootCauseSighting | None] = [None]
        if indexed is not None:
            befores.append(indexed.sighting)
            if indexed.previous_fingerprint is not None:
                befores.append(
                    RootCauseSighting(
                        sighting.incident_id, indexed.previous_fingerprint, sighting.identified_at
                    )
                )
        fingerprints = {sighting.fingerprint} | {b.fingerprint for b in befores if b is not None}
        index = await store.root_causes_with(fingerprints)
        for before in befores:
            affected.update(incidents_to_reevaluate(before, sighting, index))
    if event.type in ACTION_ITEM_EVENTS:
        affected.update(later_repeats_of(sighting, await store.root_causes_with([sighting.fingerprint])))
    return sorted(affected)


async def decide_incident(incident_id: str, ports: PolicyPorts) -> Derivation:
    """Derive the incident's decision from everything stored; store and publish it if it changed.

    First publishes the incident's stored-but-unpublished revision, if any (left by a crash or a
    failed publish). Raises :class:`DecisionConflict` when other replicas kept winning the
    compare-and-set, or the publisher's error when JetStream did not acknowledge.
    """
    async with ports.locks.of(incident_id):
        return await _decide_incident(incident_id, ports)


async def _decide_incident(incident_id: str, ports: PolicyPorts) -> Derivation:
    store = ports.store
    for attempt in range(1, MAX_DECISION_ATTEMPTS + 1):
        state = await store.incident_state(incident_id)
        if state.event_count == 0:
            return Derivation(incident_id, state.revision, published=False)
        if state.decision is not None and not state.decision.published:
            await publish_stored_decision(state.decision, ports)
        facts = await ports.facts.facts(incident_id, state.event_count)
        sighting = RootCauseSighting.of(facts)
        indexed = state.root_cause
        index_changed = False
        if sighting is not None and (indexed is None or indexed.sighting != sighting):
            index_changed = await store.index_root_cause(sighting, facts.event_count)
        repeat_of: tuple[str, ...] = ()
        earlier_items: list[EarlierOpenActionItem] = []
        if sighting is not None:
            repeat_of = find_repeat_of(sighting, await store.root_causes_with([sighting.fingerprint]))
            earlier_items = [item async for item in _open_items_of(repeat_of, ports)]
        content = derive_decision(facts, repeat_of, ports.calendar, earlier_items)
        unchanged = state.decision is not None and state.decision.content == content
        if unchanged or await store.save_decision(incident_id, content, state.revision, facts.event_count):
            published = not unchanged
            revision = state.revision if unchanged else state.revision + 1
            if published:
                decision = content.with_revision(revision)
                # False only if another replica already published it from the store: still one message.
                await ports.publisher.publish(decision)
                await store.mark_published(incident_id, revision)
                log.info(
                    "decision.published",
                    revision=revision,
                    requirement=decision.requirement,
                    repeat_of=decision.repeat_of,
                    events=facts.event_count,
                )
            return Derivation(incident_id, revision, published, sighting, indexed, index_changed)
        log.info("decision.conflict", attempt=attempt, expected_revision=state.revision)
    raise DecisionConflict(
        f"incident {incident_id}: {MAX_DECISION_ATTEMPTS} compare-and-set attempts lost to other replicas"
    )


async def _open_items_of(
    incidents: Iterable[str], ports: PolicyPorts
) -> AsyncIterator[EarlierOpenActionItem]:
    """The open action items of these (earlier) incidents, each from its current facts."""
    for earlier in incidents:
        state = await ports.store.incident_state(earlier)
        for item in open_items_of(await ports.facts.facts(earlier, state.event_count)):
            yield item


async def publish_stored_decision(decision: StoredDecision, ports: PolicyPorts) -> bool:
    """Publish a stored revision not marked published, unless the stream already has it; then mark it.

    Returns True when this call published it (False: it was published before only its mark was
    lost, or another replica published it meanwhile).
    """
    published = await ports.publisher.publish(decision.decision())
    await ports.store.mark_published(decision.incident_id, decision.revision)
    log.info(
        "decision.republished" if published else "decision.found_on_stream",
        incident_id=decision.incident_id,
        revision=decision.revision,
    )
    return published


async def publish_pending_decisions(ports: PolicyPorts) -> int:
    """The sweep: publish every stored revision not yet marked published; return how many were sent."""
    sent = 0
    for decision in await ports.store.unpublished_decisions():
        # If a handler moved the incident on meanwhile, this revision is on the stream already and
        # the publisher skips it.
        async with ports.locks.of(decision.incident_id):
            if await publish_stored_decision(decision, ports):
                sent += 1
    return sent
