"""The shared SQLite event log: a batch stored in one statement, each id once."""

from __future__ import annotations

from pathlib import Path

from majorops.shared.events import validate_event
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.storage.sqlite import EVENTS_SCHEMA, SqliteDatabase, SqliteEventLog
from majorops.shared.testing import event_envelope


def stored(event_id: str, arrival: int, incident: str = "INC-1") -> StoredEvent:
    envelope = event_envelope(
        incident, event_id, "majorops.timeline.logged", "2026-11-20T10:00:00Z", {"text": event_id}
    )
    return StoredEvent.from_event(validate_event(envelope), arrival)


async def test_a_batch_is_stored_once_per_id_and_says_which_were_new(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "events.sqlite3", [EVENTS_SCHEMA])
    await db.open()
    try:
        log = SqliteEventLog(db)
        assert await log.append(stored("e1", 1))
        batch = [stored("e1", 2), stored("e2", 3), stored("e2", 4), stored("e3", 5)]
        # e1 is stored already; the second e2 of the batch repeats the first.
        assert await log.append_many(batch) == [False, True, False, True]
        assert await log.append_many([]) == []
        events = await log.events_for("INC-1")
        assert [(e.event_id, e.arrival) for e in events] == [("e1", 1), ("e2", 3), ("e3", 5)]
        # More rows than one statement takes are split, still all stored once.
        many = [stored(f"m{n}", 10 + n, "INC-2") for n in range(1000)]
        assert await log.append_many(many) == [True] * 1000
        assert len(await log.events_for("INC-2")) == 1000
    finally:
        await db.close()
