"""The shared SQLite event log: a batch stored in one statement, each id once."""

from __future__ import annotations

import os
import sqlite3
import stat
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


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_store_and_its_dir_are_the_owners_only_whatever_the_umask_or_earlier_modes(
    tmp_path: Path,
) -> None:
    """Every review is in the store: a local user reading it would bypass the read token."""
    fresh = tmp_path / "fresh" / "events.sqlite3"
    earlier = os.umask(0o022)
    try:
        db = SqliteDatabase(fresh, [EVENTS_SCHEMA])
        await db.open()
        try:
            assert await SqliteEventLog(db).append(stored("e1", 1))
            files = [fresh, fresh.with_name("events.sqlite3-wal"), fresh.with_name("events.sqlite3-shm")]
            assert [mode(f) for f in files] == [0o600] * 3
            assert mode(fresh.parent) == 0o700
        finally:
            await db.close()
        # A store an older version left readable by all (its WAL files too) is narrowed at open.
        old = tmp_path / "old"
        old.mkdir(mode=0o755)
        os.chmod(old, 0o755)
        sqlite3.connect(old / "events.sqlite3").close()
        for name in ("events.sqlite3", "events.sqlite3-wal", "events.sqlite3-shm"):
            (old / name).touch()
            os.chmod(old / name, 0o644)
        db = SqliteDatabase(old / "events.sqlite3", [EVENTS_SCHEMA])
        await db.open()
        await db.close()
        assert mode(old) == 0o700
        assert {p.name: mode(p) for p in old.iterdir()} == {p.name: 0o600 for p in old.iterdir()}
    finally:
        os.umask(earlier)
