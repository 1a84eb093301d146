"""Recording an event in policy's store, with a hand-written in-memory store (no broker)."""

from __future__ import annotations

from typing import Any

import pytest
from majorops.policy.handlers import record_event
from majorops.shared.jetstream import PoisonMessage
from majorops.shared.storage.eventlog import StoredEvent


class InMemoryPolicyStore:
    """The :class:`~majorops.policy.ports.PolicyStore` port in a dict, ordered as the adapters order."""

    def __init__(self) -> None:
        self.events: dict[str, StoredEvent] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def append_event(self, event: StoredEvent) -> bool:
        if event.event_id in self.events:
            return False
        self.events[event.event_id] = event
        return True

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        mine = [e for e in self.events.values() if e.incident_id == incident_id]
        return sorted(mine, key=lambda e: (e.time_utc, e.arrival))

    async def incident_ids(self) -> list[str]:
        return sorted({e.incident_id for e in self.events.values()})


def envelope(incident: str, event_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": "pagerduty/prod",
        "type": "majorops.incident.declared",
        "time": "2026-11-20T09:14:00+01:00",
        "subject": incident,
        "data": {"title": "Checkout latency", "severity": "P1"},
    }
    body.update(changes)
    return body


async def test_event_is_stored_normalised_and_its_incident_returned() -> None:
    store = InMemoryPolicyStore()
    incident = await record_event(envelope("INC-1", "e-1"), 7, store)
    assert incident == "INC-1"
    [stored] = await store.events_for("INC-1")
    assert stored.event_id == "e-1"
    assert stored.arrival == 7
    assert stored.time_utc == "2026-11-20T08:14:00.000000Z"
    assert stored.envelope["data"]["severity"] == "critical"


async def test_same_event_twice_is_stored_once_keeping_its_first_arrival() -> None:
    store = InMemoryPolicyStore()
    await record_event(envelope("INC-1", "e-1"), 7, store)
    again = await record_event(envelope("INC-1", "e-1"), 9, store)
    assert again == "INC-1"
    assert [(e.event_id, e.arrival) for e in await store.events_for("INC-1")] == [("e-1", 7)]


async def test_invalid_envelope_is_poison_naming_the_field_and_stores_nothing() -> None:
    store = InMemoryPolicyStore()
    broken = envelope("INC-1", "e-1")
    del broken["time"]
    with pytest.raises(PoisonMessage, match="time: is required"):
        await record_event(broken, 1, store)
    with pytest.raises(PoisonMessage, match="unknown event type"):
        await record_event(envelope("INC-1", "e-2", type="majorops.incident.declard"), 2, store)
    with pytest.raises(PoisonMessage, match="must be a JSON object"):
        await record_event(["not", "an", "envelope"], 3, store)
    assert store.events == {}


async def test_event_type_added_by_the_deployment_is_recorded() -> None:
    store = InMemoryPolicyStore()
    custom = envelope("INC-1", "e-1", type="majorops.pager.acknowledged", data={"by": "@dreyes"})
    with pytest.raises(PoisonMessage):
        await record_event(custom, 1, store)
    await record_event(custom, 1, store, frozenset({"majorops.pager.acknowledged"}))
    assert [e.type for e in await store.events_for("INC-1")] == ["majorops.pager.acknowledged"]
