"""What a policy replica keeps per incident in its own process: the facts folded so far, and a lock.

:class:`IncidentFactsCache` keeps, per incident, a :class:`FactsAccumulator` in an LRU of bounded
size. A new event is folded in O(1); a cache miss reads the incident's history once (O(N)). The
cache is never trusted: before deciding, the accumulator's event count is compared with the store's,
and if another replica stored events meanwhile only those are read and folded (SQLite numbers each
incident's events as they are stored; MongoDB cannot, so there a stale entry re-reads the history).

Neither is ever trusted across processes: the store's compare-and-set keeps revisions right.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from majorops.policy.domain.facts import FactsAccumulator, IncidentFacts
from majorops.policy.ports import PolicyStore
from majorops.shared.events import CloudEvent


@dataclass(slots=True)
class _FoldedIncident:
    accumulator: FactsAccumulator
    position: int = 0
    """Every event the store holds for the incident up to this position is folded."""


class IncidentFactsCache:
    """Per incident, the facts folded so far, for the most recently used incidents (LRU)."""

    def __init__(self, store: PolicyStore, capacity: int = 1024) -> None:
        self.store = store
        self.capacity = capacity
        self._folded: OrderedDict[str, _FoldedIncident] = OrderedDict()

    def __len__(self) -> int:
        return len(self._folded)

    def fold_new_event(self, event: CloudEvent) -> None:
        """Fold an event just stored into its incident's cached facts, if cached: O(1).

        Only events the store has just accepted as new: a reused id with another body must not
        enter the facts, as the store kept the first body.
        """
        folded = self._folded.get(event.incident_id)
        if folded is not None:
            folded.accumulator.add(event)

    async def facts(self, incident_id: str, stored_count: int) -> IncidentFacts:
        """The incident's facts over every event the store holds (``stored_count`` of them, or more).

        A miss folds the incident's history (O(N), once); a hit whose count is behind folds only
        the events stored since its position.
        """
        folded = self._folded.get(incident_id)
        if folded is None:
            folded = _FoldedIncident(FactsAccumulator(incident_id))
            self._folded[incident_id] = folded
            while len(self._folded) > self.capacity:
                self._folded.popitem(last=False)
        else:
            self._folded.move_to_end(incident_id)
        facts = folded.accumulator.facts()
        if facts.event_count == stored_count:
            # The accumulator only ever holds stored events: equal counts mean equal sets.
            folded.position = stored_count
        elif facts.event_count < stored_count:
            events, position = await self.store.events_stored_after(incident_id, folded.position)
            for stored in events:
                folded.accumulator.add(stored.event())
            folded.position = max(folded.position, position)
            facts = folded.accumulator.facts()
        return facts


class IncidentLocks:
    """One lock per incident within a process.

    The batch handler and the sweep run concurrently in a replica; deciding one incident at a time
    in the process spares them from losing compare-and-sets to each other. Across processes the
    compare-and-set alone keeps revisions right.
    """

    def __init__(self) -> None:
        # Weak values: a lock nobody holds or waits for disappears with its last user.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def of(self, incident_id: str) -> asyncio.Lock:
        """The incident's lock."""
        lock = self._locks.get(incident_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[incident_id] = lock
        return lock
