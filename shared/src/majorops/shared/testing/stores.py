"""Fakes of the store ports, and a service's real stores on one place (SQLite or MongoDB)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from majorops.shared.events import validate_event
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.testing.envelopes import event_envelope

# --- fakes of the ports ---------------------------------------------------------------------------


class InMemoryEventLog:
    """The event-log part of a service's store port in a dict, with the adapters' rules: each event
    once by id (the first stored wins), read back by event time, ties by arrival. A test's fake of a
    whole store extends it with the rest of its port."""

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

    async def append_events(self, events: Sequence[StoredEvent]) -> list[bool]:
        return [await self.append_event(event) for event in events]

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        mine = [e for e in self.events.values() if e.incident_id == incident_id]
        return sorted(mine, key=lambda e: (e.time_utc, e.arrival))

    async def incident_ids(self) -> list[str]:
        return sorted({e.incident_id for e in self.events.values()})


def stored_note(incident: str, event_id: str, time: str, arrival: int) -> StoredEvent:
    """A timeline note (``note <event_id>``) as a store holds it, arrived at stream sequence ``arrival``."""
    envelope = event_envelope(
        incident, event_id, "timeline.logged", time, {"text": f"note {event_id}"}, "test"
    )
    return StoredEvent.from_event(validate_event(envelope), arrival)


StoreT = TypeVar("StoreT")


@asynccontextmanager
async def store_places(
    kind: str,
    service: str,
    tmp_path: Path,
    sqlite: Callable[[Path], StoreT],
    mongo: Callable[[str, str], StoreT],
    mongodb_url: Callable[[], str],
) -> AsyncIterator[Callable[[], StoreT]]:
    """Makes a service's stores (``kind``: ``sqlite`` or ``mongodb``) on one and the same place, so a
    test can close one and reopen another: a SQLite file in ``tmp_path``, or a fresh MongoDB database
    at ``mongodb_url()`` (asked only for MongoDB), dropped afterwards."""
    if kind == "sqlite":
        path = tmp_path / f"{service}.sqlite3"
        yield lambda: sqlite(path)
        return
    from majorops.shared.storage.mongo import mongo_client

    url = mongodb_url()
    database = f"majorops_test_{uuid.uuid4().hex[:8]}_{service}"
    try:
        yield lambda: mongo(url, database)
    finally:
        client: Any = mongo_client(url, "majorops-tests")
        await client.drop_database(database)
        await client.close()


class EventStore(Protocol):
    """Anything that reads an incident's stored events back (every service's store)."""

    async def events_for(self, incident_id: str) -> list[StoredEvent]: ...


async def stored_event_ids(store: EventStore, incident_id: str) -> list[str]:
    """The ids of the incident's stored events, in the store's order (event time, then arrival)."""
    return [event.event_id for event in await store.events_for(incident_id)]
