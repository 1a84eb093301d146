"""One contract for both review stores: what the Learning Review reads back after redeliveries,
late messages and restarts. SQLite always runs; MongoDB runs where a MongoDB answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from majorops.reports.adapters.mongo import MongoReviewStore
from majorops.reports.adapters.sqlite import SqliteReviewStore
from majorops.reports.ports import ReviewStore
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.events import validate_event
from majorops.shared.storage.eventlog import StoredEvent

OpenStore = Callable[[], Awaitable[ReviewStore]]


@pytest.fixture(params=["sqlite", "mongodb"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens the same store again on each call (a restart); every opened store is closed afterwards."""
    opened: list[ReviewStore] = []
    if request.param == "sqlite":
        path = tmp_path / "reports.sqlite3"

        async def open_sqlite() -> ReviewStore:
            store = await SqliteReviewStore.open(path)
            opened.append(store)
            return store

        yield open_sqlite
    else:
        url: str = request.getfixturevalue("mongodb_url")
        database = f"reports_test_{uuid.uuid4().hex[:10]}"

        async def open_mongo() -> ReviewStore:
            store = await MongoReviewStore.open(url, database)
            opened.append(store)
            return store

        yield open_mongo
        if opened:
            mongo = opened[0]
            assert isinstance(mongo, MongoReviewStore)
            await mongo.client.drop_database(database)
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: OpenStore) -> ReviewStore:
    return await open_store()


def stored(
    incident: str, event_id: str, time: str, arrival: int, type_: str = "majorops.timeline.logged"
) -> StoredEvent:
    data: dict[str, Any] = {"text": f"note {event_id}"}
    if type_ == "majorops.incident.declared":
        data = {"title": "Checkout latency", "severity": "critical"}
    event = validate_event(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "test",
            "type": type_,
            "time": time,
            "subject": incident,
            "data": data,
        }
    )
    return StoredEvent.from_event(event, arrival)


def decision(incident: str, revision: int, requirement: str = "mandatory") -> AfterActionDecision:
    return AfterActionDecision.model_validate(
        {
            "incident_id": incident,
            "revision": revision,
            "requirement": requirement,
            "reasons": [{"rule": "critical_any_duration", "text": f"revision {revision}"}],
            "severity": "critical",
        }
    )


def escalation(incident: str, kind: str, level: int, fired_at: str) -> Escalation:
    return Escalation.model_validate(
        {
            "escalation_id": f"{incident}:{kind}:{level}",
            "incident_id": incident,
            "kind": kind,
            "level": level,
            "due_at": "2026-11-21T12:00:00Z",
            "fired_at": fired_at,
            "notify": {"role": "mim", "person": "Dana Reyes"},
            "message": f"{kind} level {level}",
        }
    )


async def test_the_same_event_twice_is_stored_once(store: ReviewStore, unique_id: str) -> None:
    event = stored(unique_id, f"{unique_id}-1", "2026-11-20T09:14:00Z", arrival=1)
    assert await store.append_event(event) is True
    # A redelivery (even with a later stream sequence) changes nothing.
    again = stored(unique_id, f"{unique_id}-1", "2026-11-20T09:14:00Z", arrival=7)
    assert await store.append_event(again) is False
    events = await store.events_for(unique_id)
    assert [(e.event_id, e.arrival) for e in events] == [(f"{unique_id}-1", 1)]
    assert events[0].event().data == {"text": f"note {unique_id}-1"}


async def test_events_come_back_by_time_then_arrival(store: ReviewStore, unique_id: str) -> None:
    # Offsets differ on purpose: 10:30+02:00 is 08:30Z, earlier than 09:00Z.
    for event_id, time, arrival in [
        ("late", "2026-11-20T09:00:00Z", 1),
        ("tie-second", "2026-11-20T08:45:00Z", 5),
        ("offset", "2026-11-20T10:30:00+02:00", 3),
        ("tie-first", "2026-11-20T08:45:00Z", 4),
    ]:
        assert await store.append_event(stored(unique_id, event_id, time, arrival))
    await store.append_event(stored(f"{unique_id}-other", "elsewhere", "2026-11-20T08:00:00Z", 2))
    ids = [e.event_id for e in await store.events_for(unique_id)]
    assert ids == ["offset", "tie-first", "tie-second", "late"]


@pytest.mark.parametrize("arrival_order", [[1, 2, 3], [3, 1, 2], [2, 3, 1, 3, 2]])
async def test_the_highest_decision_revision_wins_whatever_the_arrival_order(
    store: ReviewStore, unique_id: str, arrival_order: list[int]
) -> None:
    requirement = {1: "not_required", 2: "recommended", 3: "mandatory"}
    highest_so_far = 0
    for revision in arrival_order:
        became_latest = await store.save_decision(decision(unique_id, revision, requirement[revision]))
        assert became_latest is (revision > highest_so_far)
        highest_so_far = max(highest_so_far, revision)
    latest = await store.latest_decision(unique_id)
    assert latest is not None
    assert latest.revision == 3
    assert latest.requirement == "mandatory"
    assert latest.reasons[0].text == "revision 3"


async def test_no_decision_yet(store: ReviewStore, unique_id: str) -> None:
    assert await store.latest_decision(unique_id) is None


async def test_escalations_are_unique_by_id_and_ordered_by_firing(store: ReviewStore, unique_id: str) -> None:
    level2 = escalation(unique_id, "after_action_not_scheduled", 2, "2026-11-22T12:00:00Z")
    level1 = escalation(unique_id, "after_action_not_scheduled", 1, "2026-11-21T12:00:03Z")
    assert await store.save_escalation(level2) is True
    assert await store.save_escalation(level1) is True
    assert await store.save_escalation(level1) is False
    kept = await store.escalations_for(unique_id)
    assert [e.escalation_id for e in kept] == [level1.escalation_id, level2.escalation_id]
    assert kept[0].notify.person == "Dana Reyes"
    assert await store.escalations_for(f"{unique_id}-none") == []


async def test_an_incident_is_known_from_any_of_its_records(store: ReviewStore, unique_id: str) -> None:
    assert await store.knows_incident(unique_id) is False
    await store.save_decision(decision(unique_id, 1))
    assert await store.knows_incident(unique_id) is True
    await store.save_escalation(escalation(f"{unique_id}-e", "mtm_recommended", 1, "2026-11-20T11:14:00Z"))
    assert await store.knows_incident(f"{unique_id}-e") is True
    await store.append_event(stored(f"{unique_id}-v", "ev", "2026-11-20T09:00:00Z", 1))
    assert await store.knows_incident(f"{unique_id}-v") is True


async def test_everything_survives_a_restart(open_store: OpenStore, unique_id: str) -> None:
    first = await open_store()
    assert await first.ping() is True
    await first.append_event(stored(unique_id, "e1", "2026-11-20T09:00:00Z", 1, "majorops.incident.declared"))
    await first.save_decision(decision(unique_id, 2))
    await first.save_escalation(escalation(unique_id, "mtm_recommended", 1, "2026-11-20T11:00:00Z"))
    await first.close()

    second = await open_store()
    assert [e.event_id for e in await second.events_for(unique_id)] == ["e1"]
    latest = await second.latest_decision(unique_id)
    assert latest is not None and latest.revision == 2
    assert await second.save_decision(decision(unique_id, 1)) is False
    assert len(await second.escalations_for(unique_id)) == 1
