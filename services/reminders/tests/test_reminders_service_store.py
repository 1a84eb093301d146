"""Reminders' store adapters (SQLite and MongoDB): events once, and the newest decision per incident."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from majorops.reminders.adapters.mongo import MongoRemindersStore
from majorops.reminders.adapters.sqlite import SqliteRemindersStore
from majorops.reminders.app import store_from_settings
from majorops.reminders.config import RemindersSettings
from majorops.reminders.ports import RemindersStore
from majorops.shared.decisions import AfterActionDecision, Requirement
from majorops.shared.events import validate_event
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.storage.mongo import mongo_client

StoreFactory = Callable[[], RemindersStore]


def stored(incident: str, event_id: str, time: str, arrival: int) -> StoredEvent:
    event = validate_event(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "test",
            "type": "majorops.timeline.logged",
            "time": time,
            "subject": incident,
            "data": {"text": f"note {event_id}"},
        }
    )
    return StoredEvent.from_event(event, arrival)


def decision(incident: str, revision: int, requirement: str = "mandatory") -> AfterActionDecision:
    return AfterActionDecision.model_validate(
        {
            "incident_id": incident,
            "revision": revision,
            "requirement": requirement,
            "reasons": [{"rule": "critical_any_duration", "text": "Critical (P1) incident"}],
            "severity": "critical",
            "duration_seconds": 8100,
            "customer_impact": True,
            "closed_at": "2026-11-20T12:00:00Z",
            "deadlines": {"schedule_by": "2026-11-21T12:00:00Z", "hold_by": "2026-11-27T12:00:00Z"},
            "declared_at": "2026-11-20T09:45:00Z",
            "mim": "Dana Reyes",
        }
    )


@pytest.fixture(params=["sqlite", "mongodb"])
async def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Makes stores on one and the same place, so a test can close one and reopen another."""
    if request.param == "sqlite":
        path = tmp_path / "reminders.sqlite3"
        yield lambda: SqliteRemindersStore(path)
        return
    url: str = request.getfixturevalue("mongodb_url")
    database = f"majorops_test_{uuid.uuid4().hex[:8]}_reminders"
    yield lambda: MongoRemindersStore(url, database)
    client: Any = mongo_client(url, "majorops-tests")
    await client.drop_database(database)
    await client.close()


@pytest.fixture
async def store(new_store: StoreFactory) -> AsyncIterator[RemindersStore]:
    opened = new_store()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_events_are_stored_once_in_event_time_order(store: RemindersStore) -> None:
    assert await store.append_event(stored("INC-1", "late", "2026-11-20T12:00:00Z", 1)) is True
    assert await store.append_event(stored("INC-1", "early", "2026-11-20T09:00:00Z", 2)) is True
    assert await store.append_event(stored("INC-1", "late", "2026-11-20T12:00:00Z", 3)) is False
    assert await store.append_event(stored("INC-2", "other", "2026-11-20T10:00:00Z", 4)) is True
    assert [(e.event_id, e.arrival) for e in await store.events_for("INC-1")] == [("early", 2), ("late", 1)]
    assert await store.incident_ids() == ["INC-1", "INC-2"]


async def test_the_highest_revision_is_kept_whatever_the_arrival_order(store: RemindersStore) -> None:
    assert await store.latest_decision("INC-1") is None
    assert await store.save_decision(decision("INC-1", 2, "recommended")) is True
    assert await store.save_decision(decision("INC-1", 4)) is True
    assert await store.save_decision(decision("INC-1", 3, "optional")) is False
    assert await store.save_decision(decision("INC-1", 4)) is False
    assert await store.save_decision(decision("INC-2", 1, "not_required")) is True
    latest = await store.latest_decision("INC-1")
    assert latest == decision("INC-1", 4)
    assert latest is not None and latest.requirement is Requirement.MANDATORY
    # Fields beyond the contract (policy may add more) survive the round trip.
    assert latest.model_dump(mode="json")["mim"] == "Dana Reyes"
    other = await store.latest_decision("INC-2")
    assert other is not None and other.requirement is Requirement.NOT_REQUIRED


async def test_the_record_survives_a_restart(new_store: StoreFactory) -> None:
    first = new_store()
    await first.open()
    await first.append_event(stored("INC-1", "e-1", "2026-11-20T09:00:00Z", 1))
    await first.save_decision(decision("INC-1", 5))
    await first.close()
    second = new_store()
    await second.open()
    try:
        assert [e.event_id for e in await second.events_for("INC-1")] == ["e-1"]
        assert await second.save_decision(decision("INC-1", 4)) is False
        assert await second.latest_decision("INC-1") == decision("INC-1", 5)
    finally:
        await second.close()


def test_mongodb_is_used_when_its_url_is_set(tmp_path: Path) -> None:
    embedded = store_from_settings(RemindersSettings(data_dir=tmp_path, mongodb_url=None))
    assert isinstance(embedded, SqliteRemindersStore)
    assert embedded.database.path == tmp_path / "reminders.sqlite3"
    production = store_from_settings(
        RemindersSettings(mongodb_url="mongodb://db.example:27017", mongodb_database="ops")
    )
    assert isinstance(production, MongoRemindersStore)
    assert production.database_name == "ops_reminders"
