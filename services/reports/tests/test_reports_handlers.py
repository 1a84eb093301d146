"""Reports' use cases with a hand-written in-memory store: what is poison, what a review shows."""

from __future__ import annotations

from typing import Any

import pytest
from majorops.reports.handlers import read_review, record_decision, record_escalation, record_event
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.jetstream import PoisonMessage
from majorops.shared.storage.eventlog import StoredEvent

INC = "INC-7"


class InMemoryReviewStore:
    """A fake of :class:`~majorops.reports.ports.ReviewStore` with the same idempotency rules."""

    def __init__(self) -> None:
        self.events: dict[str, StoredEvent] = {}
        self.decisions: dict[str, AfterActionDecision] = {}
        self.escalations: dict[str, Escalation] = {}

    async def append_event(self, event: StoredEvent) -> bool:
        if event.event_id in self.events:
            return False
        self.events[event.event_id] = event
        return True

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        mine = [e for e in self.events.values() if e.incident_id == incident_id]
        return sorted(mine, key=lambda e: (e.time_utc, e.arrival))

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        kept = self.decisions.get(decision.incident_id)
        if kept is not None and kept.revision >= decision.revision:
            return False
        self.decisions[decision.incident_id] = decision
        return True

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        return self.decisions.get(incident_id)

    async def save_escalation(self, escalation: Escalation) -> bool:
        if escalation.escalation_id in self.escalations:
            return False
        self.escalations[escalation.escalation_id] = escalation
        return True

    async def escalations_for(self, incident_id: str) -> list[Escalation]:
        mine = [e for e in self.escalations.values() if e.incident_id == incident_id]
        return sorted(mine, key=lambda e: (e.fired_at, e.escalation_id))

    async def knows_incident(self, incident_id: str) -> bool:
        return (
            any(e.incident_id == incident_id for e in self.events.values())
            or incident_id in self.decisions
            or any(e.incident_id == incident_id for e in self.escalations.values())
        )

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def envelope(event_id: str = "e1", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": "test",
        "type": "majorops.incident.declared",
        "time": "2026-11-20T09:14:00Z",
        "subject": INC,
        "data": {"title": "Checkout latency", "severity": "P1"},
    }
    return base | overrides


ESCALATION = {
    "escalation_id": f"{INC}:mtm_recommended:1",
    "incident_id": INC,
    "kind": "mtm_recommended",
    "level": 1,
    "due_at": "2026-11-20T11:14:00Z",
    "fired_at": "2026-11-20T11:14:02Z",
    "notify": {"role": "mim", "person": "Dana Reyes"},
    "message": "Consider a Major Technical Meeting",
}


@pytest.mark.parametrize(
    "body",
    [
        ["not", "an", "object"],
        envelope(type="majorops.incident.declard"),
        envelope(time="yesterday"),
        envelope(data={"title": "x", "severity": "urgent"}),
    ],
    ids=["array", "unknown-type", "bad-time", "bad-severity"],
)
async def test_an_invalid_event_is_poison_and_stores_nothing(body: Any) -> None:
    store = InMemoryReviewStore()
    with pytest.raises(PoisonMessage, match="invalid event envelope"):
        await record_event(body, 1, store)
    assert store.events == {}


async def test_a_deployment_added_type_is_kept_when_configured() -> None:
    store = InMemoryReviewStore()
    body = envelope(type="majorops.change.rolled_back", data={"change": "CHG-1"})
    with pytest.raises(PoisonMessage):
        await record_event(body, 1, store)
    assert await record_event(body, 1, store, frozenset({"majorops.change.rolled_back"})) is True


async def test_a_redelivered_event_is_recorded_once() -> None:
    store = InMemoryReviewStore()
    assert await record_event(envelope(), 1, store) is True
    assert await record_event(envelope(), 2, store) is False
    review = await read_review(INC, store)
    assert review is not None
    assert len(review["timeline"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"incident_id": INC, "revision": 0, "requirement": "mandatory"},
        {"incident_id": INC, "revision": 1, "requirement": "maybe"},
        "mandatory",
    ],
    ids=["revision-0", "unknown-requirement", "not-an-object"],
)
async def test_an_invalid_decision_is_poison(body: Any) -> None:
    with pytest.raises(PoisonMessage, match="invalid After Action decision"):
        await record_decision(body, InMemoryReviewStore())


async def test_an_invalid_escalation_is_poison() -> None:
    with pytest.raises(PoisonMessage, match="invalid escalation"):
        await record_escalation(
            {k: v for k, v in ESCALATION.items() if k != "fired_at"}, InMemoryReviewStore()
        )


async def test_an_unknown_incident_has_no_review() -> None:
    assert await read_review(INC, InMemoryReviewStore()) is None


async def test_the_review_without_a_decision_has_null_after_action_fields() -> None:
    store = InMemoryReviewStore()
    await record_event(envelope(), 1, store)
    review = await read_review(INC, store)
    assert review is not None
    assert review["after_action"] == {
        "requirement": None,
        "revision": None,
        "reasons": [],
        "repeat_of": [],
        "deadlines": {
            "schedule_by": None,
            "hold_by": None,
            "draft_due": None,
            "publish_by": None,
            "action_review_at": None,
        },
    }


async def test_the_review_shows_the_latest_decision_and_the_escalations() -> None:
    store = InMemoryReviewStore()
    await record_event(envelope(), 1, store)
    for revision, requirement in [(2, "mandatory"), (1, "not_required")]:
        await record_decision(
            {
                "incident_id": INC,
                "revision": revision,
                "requirement": requirement,
                "reasons": [{"rule": "critical_any_duration", "text": "Critical"}],
                "deadlines": {"schedule_by": "2026-11-21T13:00:00+01:00"},
            },
            store,
        )
    await record_escalation(ESCALATION, store)
    await record_escalation(ESCALATION, store)
    review = await read_review(INC, store)
    assert review is not None
    assert review["after_action"]["requirement"] == "mandatory"
    assert review["after_action"]["revision"] == 2
    assert review["after_action"]["deadlines"]["schedule_by"] == "2026-11-21T12:00:00Z"
    assert review["escalations"] == [
        {
            "escalation_id": f"{INC}:mtm_recommended:1",
            "kind": "mtm_recommended",
            "level": 1,
            "due_at": "2026-11-20T11:14:00Z",
            "fired_at": "2026-11-20T11:14:02Z",
            "notify": {"role": "mim", "person": "Dana Reyes"},
            "message": "Consider a Major Technical Meeting",
            "item": None,
        }
    ]
