"""Policy's store adapters (SQLite and MongoDB) keep the same record: each event once, in event-time order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from majorops.policy.adapters.mongo import MongoPolicyStore
from majorops.policy.adapters.sqlite import SqlitePolicyStore
from majorops.policy.app import store_from_settings
from majorops.policy.config import PolicySettings
from majorops.policy.ports import PolicyStore
from majorops.shared.events import validate_event
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.storage.mongo import mongo_client

StoreFactory = Callable[[], PolicyStore]


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


@pytest.fixture(params=["sqlite", "mongodb"])
async def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Makes stores on one and the same place, so a test can close one and reopen another."""
    if request.param == "sqlite":
        path = tmp_path / "policy.sqlite3"
        yield lambda: SqlitePolicyStore(path)
        return
    url: str = request.getfixturevalue("mongodb_url")
    database = f"majorops_test_{uuid.uuid4().hex[:8]}_policy"
    yield lambda: MongoPolicyStore(url, database)
    client: Any = mongo_client(url, "majorops-tests")
    await client.drop_database(database)
    await client.close()


async def test_an_event_is_stored_once_whatever_its_redeliveries(new_store: StoreFactory) -> None:
    store = new_store()
    await store.open()
    try:
        assert await store.append_event(stored("INC-1", "e-1", "2026-11-20T09:00:00Z", 1)) is True
        assert await store.append_event(stored("INC-1", "e-1", "2026-11-20T09:00:00Z", 5)) is False
        [only] = await store.events_for("INC-1")
        assert (only.event_id, only.arrival) == ("e-1", 1)
        assert only.envelope["data"] == {"text": "note e-1"}
    finally:
        await store.close()


async def test_events_come_back_in_event_time_order_ties_by_arrival(new_store: StoreFactory) -> None:
    store = new_store()
    await store.open()
    try:
        # Arrival order differs from event time on purpose: late events are normal.
        await store.append_event(stored("INC-1", "late", "2026-11-20T11:00:00+02:00", 1))
        await store.append_event(stored("INC-1", "tie-b", "2026-11-20T09:30:00Z", 3))
        await store.append_event(stored("INC-1", "tie-a", "2026-11-20T09:30:00Z", 2))
        await store.append_event(stored("INC-1", "first", "2026-11-20T08:59:59.5Z", 4))
        await store.append_event(stored("INC-2", "other", "2026-11-20T08:00:00Z", 5))
        assert [e.event_id for e in await store.events_for("INC-1")] == ["first", "late", "tie-a", "tie-b"]
        assert await store.incident_ids() == ["INC-1", "INC-2"]
        assert await store.events_for("INC-unknown") == []
    finally:
        await store.close()


async def test_the_record_survives_a_restart(new_store: StoreFactory) -> None:
    first = new_store()
    await first.open()
    await first.append_event(stored("INC-1", "e-1", "2026-11-20T09:00:00Z", 1))
    await first.close()
    second = new_store()
    await second.open()
    try:
        assert await second.append_event(stored("INC-1", "e-1", "2026-11-20T09:00:00Z", 2)) is False
        assert [e.event_id for e in await second.events_for("INC-1")] == ["e-1"]
    finally:
        await second.close()


def test_mongodb_is_used_when_its_url_is_set(tmp_path: Path) -> None:
    embedded = store_from_settings(PolicySettings(data_dir=tmp_path, mongodb_url=None))
    assert isinstance(embedded, SqlitePolicyStore)
    assert embedded.database.path == tmp_path / "policy.sqlite3"
    production = store_from_settings(
        PolicySettings(mongodb_url="mongodb://db.example:27017", mongodb_database="ops")
    )
    assert isinstance(production, MongoPolicyStore)
    assert production.database_name == "ops_policy"
