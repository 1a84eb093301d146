"""Repeat incidents: the same root-cause fingerprint as an incident whose root cause came earlier.

The caller keeps a fingerprint index across incidents (one :class:`RootCauseSighting` per incident
with a root cause); these pure functions answer the two questions it asks of it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from majorops.policy.domain.facts import IncidentFacts


@dataclass(frozen=True, slots=True)
class RootCauseSighting:
    """One incident's entry in the fingerprint index."""

    incident_id: str
    fingerprint: str
    identified_at: datetime

    @classmethod
    def of(cls, facts: IncidentFacts) -> RootCauseSighting | None:
        """The incident's entry, or ``None`` while it has no root cause."""
        if facts.root_cause is None:
            return None
        return cls(facts.incident_id, facts.root_cause.fingerprint, facts.root_cause.identified_at)


def _same_fingerprint(
    sighting: RootCauseSighting | None,
    index: Iterable[RootCauseSighting],
    identified: Callable[[datetime, datetime], bool],
) -> tuple[str, ...]:
    """The other incidents of the index with the sighting's fingerprint whose identification time
    stands in ``identified(theirs, ours)``, sorted by id; none without a sighting."""
    if sighting is None:
        return ()
    return tuple(
        sorted(
            {
                other.incident_id
                for other in index
                if other.fingerprint == sighting.fingerprint
                and other.incident_id != sighting.incident_id
                and identified(other.identified_at, sighting.identified_at)
            }
        )
    )


def find_repeat_of(sighting: RootCauseSighting | None, index: Iterable[RootCauseSighting]) -> tuple[str, ...]:
    """The other incidents with the same fingerprint identified strictly earlier, sorted by id.

    Two incidents whose root causes were identified at the very same instant repeat neither
    (neither came earlier), so the answer never depends on which was processed first.
    """
    return _same_fingerprint(sighting, index, operator.lt)


def incidents_to_reevaluate(
    before: RootCauseSighting | None,
    after: RootCauseSighting | None,
    index: Iterable[RootCauseSighting],
) -> tuple[str, ...]:
    """Other incidents whose ``repeat_of`` may change when one incident's sighting changes.

    Those sharing the old or the new fingerprint: a root cause that arrives late for an earlier
    incident turns later ones into repeats, and a corrected fingerprint may stop them being
    repeats. Sorted by id; empty when the sighting did not change.
    """
    changed = after if after is not None else before
    if changed is None or before == after:
        return ()
    fingerprints = {s.fingerprint for s in (before, after) if s is not None}
    return tuple(
        sorted(
            {
                other.incident_id
                for other in index
                if other.fingerprint in fingerprints and other.incident_id != changed.incident_id
            }
        )
    )


def later_repeats_of(
    sighting: RootCauseSighting | None, index: Iterable[RootCauseSighting]
) -> tuple[str, ...]:
    """The incidents that repeat this one: same fingerprint, identified strictly later; sorted.

    Their decisions list this incident's open action items, so they change when those items do.
    """
    return _same_fingerprint(sighting, index, operator.gt)
