"""Recording events and decisions in reminders' store, with a hand-written in-memory store (no broker)."""

from __future__ import annotations

from typing import Any

import pytest
from majorops.reminders.handlers import record_decision, record_event
from majorops.shared.decisions import AfterActionDecision, Requirement
from majorops.shared.jetstream import PoisonMessage
from majorops.shared.storage.eventlog import StoredEvent


class InMemoryRemindersStore:
    """The :class:`~majorops.reminders.ports.RemindersStore` port in dicts."""

    def __init__(self) -> None:
        self.events: dict[str, StoredEvent] = {}
        self.decisions: dict[str, AfterActionDecision] = {}

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

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        stored = self.decisions.get(decision.incident_id)
        if stored is not None and stored.revision >= decision.revision:
            return False
        self.decisions[decision.incident_id] = decision
        return True

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        return self.decisions.get(incident_id)


def envelope(incident: str, event_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": "pagerduty/prod",
        "type": "majorops.incident.closed",
        "time": "2026-11-20T12:00:00Z",
        "subject": incident,
        "data": {},
    }
    body.update(changes)
    return body


def decision(incident: str, revision: int, requirement: str = "mandatory") -> dict[str, Any]:
    return {
        "incident_id": incident,
        "revision": revision,
        "requirement": requirement,
        "reasons": [{"rule": "critical_any_duration", "text": "Critical (P1) incident"}],
        "severity": "critical",
        "closed_at": "2026-11-20T12:00:00Z",
        "deadlines": {"schedule_by": "2026-11-21T12:00:00Z", "hold_by": "2026-11-27T12:00:00Z"},
    }


async def test_event_is_stored_once_and_its_incident_returned() -> None:
    store = InMemoryRemindersStore()
    assert await record_event(envelope("INC-1", "e-1"), 3, store) == "INC-1"
    assert await record_event(envelope("INC-1", "e-1"), 4, store) == "INC-1"
    assert [(e.event_id, e.arrival) for e in await store.events_for("INC-1")] == [("e-1", 3)]


async def test_invalid_envelope_is_poison_naming_the_field() -> None:
    store = InMemoryRemindersStore()
    with pytest.raises(PoisonMessage, match=r"subject: "):
        await record_event(envelope("INC 1", "e-1"), 1, store)
    assert store.events == {}


async def test_the_highest_revision_wins_whatever_the_arrival_order() -> None:
    store = InMemoryRemindersStore()
    assert await record_decision(decision("INC-1", 2, "recommended"), store) == "INC-1"
    await record_decision(decision("INC-1", 3), store)
    await record_decision(decision("INC-1", 1, "not_required"), store)
    await record_decision(decision("INC-1", 3), store)
    latest = await store.latest_decision("INC-1")
    assert latest is not None
    assert (latest.revision, latest.requirement) == (3, Requirement.MANDATORY)
    assert latest.deadlines.schedule_by is not None
    assert latest.deadlines.schedule_by.isoformat() == "2026-11-21T12:00:00+00:00"


async def test_invalid_decision_is_poison_naming_every_field_on_one_line() -> None:
    store = InMemoryRemindersStore()
    broken = decision("INC-1", 0, "maybe")
    with pytest.raises(PoisonMessage) as caught:
        await record_decision(broken, store)
    message = str(caught.value)
    assert message.startswith("invalid decision: ")
    assert "revision: " in message and "requirement: " in message
    assert "\n" not in message
    with pytest.raises(PoisonMessage, match="invalid decision"):
        await record_decision(["not", "a", "decision"], store)
    assert store.decisions == {}
