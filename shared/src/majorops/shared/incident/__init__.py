"""One reading of an incident: :func:`read_incident` turns its events into an
:class:`~majorops.shared.incident.model.Incident`, the read model policy's facts, reminders'
obligations and reports' Learning Review are all functions of. A person reading an escalation and
then the review must never see two truths, so no service folds events of its own.

The rules every field follows (CONTRACT §1, "Reading an incident"):

- **The same id is the same event**: it counts once; of two bodies under one id the first given
  wins, as in the event log.
- **One order**: event ``time`` (UTC), then the type's place in a thing's life (what begins it,
  changes it, ends it: :data:`~majorops.shared.incident.order.LIFE_RANK`), then event ``id``
  (:data:`~majorops.shared.incident.order.EventKey`). All are in every stored event, so every
  service, replica and replay computes the same order; the arrival order (a stream or store
  sequence) is not the same everywhere (each store numbers what it stores, a replay or a second
  replica numbers differently), so it never decides anything. "Earliest", "latest" and "in order"
  are over this order, which makes the result depend only on the *set* of events.
- **A field sent replaces the field; a field not sent leaves it**: the latest event (in the one
  order) that *sent* a field sets it, and ``null`` sent clears it (``"owner": null`` takes the
  owner away). This holds for action items (``actionitem.created``/``updated`` and MTM items) and
  for the incident's title, affected users, revenue exposure and SLA status.
- **Ever-true facts**: severity is the peak; customer impact and regulatory exposure are true once
  any event said so (``null`` is no signal).
- **First times**: an event that happens once (declared, resolved, held, published, completed,
  engaged…) counts at its earliest time.
- **Action items**: an item exists from the first event naming it. Every creation is a statement
  of the fields it sends at its time: a second ``actionitem.created`` for an item updates the
  fields it sends, and a creation stamped after an update wins over the update for the fields both
  send (the update's other fields stay). An MTM's items are action items of the incident like any
  other, marked ``origin="mtm"``. Completion is terminal, at the earliest ``actionitem.completed``.
- **Vendors** are matched by trimmed, case-insensitive name; the latest ``vendor.rca_committed``
  sets the RCA due date (two at one instant: the greater id).

A new event type is a model in :mod:`majorops.shared.events` and, when it says more than "this
happened then", one row of :data:`~majorops.shared.incident.readers.READERS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

from pydantic import ValidationError

from majorops.shared.events import CloudEvent
from majorops.shared.incident.model import Incident
from majorops.shared.incident.order import check_incident
from majorops.shared.incident.readers import READERS, TypedEvent
from majorops.shared.incident.state import IncidentState, earliest


class IncidentReader:
    """Reads one incident's events one at a time, in any order, into its :class:`Incident`.

    :meth:`add` is O(1) per event; :meth:`incident` costs what changed since it was last asked
    (the frozen incident is kept until the next new event), so a service that keeps a reader per
    incident never re-reads its history for each new event.
    """

    def __init__(self, incident_id: str) -> None:
        self.incident_id = incident_id
        self._seen: set[str] = set()
        self._state = IncidentState(incident_id)
        self._incident: Incident | None = None

    def add(self, event: CloudEvent) -> bool:
        """Read one event; ``False`` (and no change) when its id was already read.

        Raises ``ValueError`` for an event of another incident. An event whose ``data`` does not fit
        its type (only in a record written before validation was strict) counts by its time, and
        its data says nothing: one bad event must not hide the rest of the incident.
        """
        check_incident(self.incident_id, event)
        if event.id in self._seen:
            return False
        self._seen.add(event.id)
        self._incident = None
        state = self._state
        state.event_count += 1
        at = event.occurred_at.astimezone(UTC)
        state.first_at[event.type] = earliest(state.first_at.get(event.type), at)
        reader = READERS.get(event.type)
        if reader is not None:
            try:
                data = event.typed_data()
            except ValidationError:
                return True
            reader(state, TypedEvent(event, data))
        return True

    def incident(self) -> Incident:
        """The incident as every event read so far says."""
        if self._incident is None:
            self._incident = self._state.freeze()
        return self._incident


def read_incident(events: Iterable[CloudEvent], incident_id: str | None = None) -> Incident:
    """The read model of one incident's events (any order, duplicates allowed).

    ``incident_id`` defaults to the events' subject. Raises ``ValueError`` when the events belong to
    several incidents, or when there are none and no ``incident_id`` is given.
    """
    reader = None if incident_id is None else IncidentReader(incident_id)
    for event in events:
        if reader is None:
            reader = IncidentReader(event.subject)
        reader.add(event)
    if reader is None:
        raise ValueError("no events to read and no incident_id given")
    return reader.incident()
