"""The embedded store: one SQLite file per service in the data dir, WAL mode, shared by replicas."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from majorops.shared.private_files import private_sqlite
from majorops.shared.storage.eventlog import StoredEvent

EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id    TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    type        TEXT NOT NULL,
    time_utc    TEXT NOT NULL,
    arrival     INTEGER NOT NULL,
    envelope    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_incident ON events (incident_id, time_utc, arrival);
"""


_ROWS_PER_STATEMENT = 400
"""SQLite allows 32766 bound parameters per statement; six per event stays far below."""


WAL_SWITCH_SECONDS = 30.0


async def _use_wal(conn: aiosqlite.Connection) -> None:
    """Put the file in WAL mode (it stays so: the mode is kept in the file).

    Switching a new file to WAL needs it alone for a moment, and SQLite answers "database is locked"
    at once, without waiting for its busy timeout, when another process switches it at the same
    moment: of two replicas starting together on a fresh file, one would exit (found by the
    reliability campaign, RELIABILITY.md). So the switch is tried again for a while.
    """
    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    attempt = 0
    while True:
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            attempt += 1
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(min(0.01 * 2**attempt, 0.5))


class SqliteDatabase:
    """An aiosqlite connection with the pragmas several processes need to share one file safely."""

    def __init__(self, path: Path, schema: Sequence[str]) -> None:
        self.path = path
        self._schema = schema
        self._conn: aiosqlite.Connection | None = None

    async def open(self) -> None:
        private_sqlite(self.path)  # the data dir 0700, the store and its WAL files 0600
        conn = await aiosqlite.connect(self.path, timeout=30.0, isolation_level=None)
        await _use_wal(conn)
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute("PRAGMA busy_timeout=30000")
        for script in self._schema:
            await conn.executescript(script)
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError(f"SQLite store {self.path} is not open")
        return self._conn

    async def ping(self) -> bool:
        await self.conn.execute("SELECT 1")
        return True


class SqliteEventLog:
    """:class:`~majorops.shared.storage.eventlog.EventLog` on SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    async def append(self, event: StoredEvent) -> bool:
        cursor = await self.db.conn.execute(
            "INSERT OR IGNORE INTO events (event_id, incident_id, type, time_utc, arrival, envelope) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            event.row(),
        )
        return cursor.rowcount == 1

    async def append_many(self, events: Sequence[StoredEvent]) -> list[bool]:
        """Store a batch in one statement (one commit, one fsync); per event, whether it was new.

        An id already stored, or repeated within the batch, is not stored again (the first wins).
        """
        if not events:
            return []
        inserted: set[str] = set()
        for start in range(0, len(events), _ROWS_PER_STATEMENT):
            chunk = events[start : start + _ROWS_PER_STATEMENT]
            rows = await self.db.conn.execute_fetchall(
                "INSERT OR IGNORE INTO events (event_id, incident_id, type, time_utc, arrival, envelope) "
                "VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk)) + " RETURNING event_id",
                [value for e in chunk for value in e.row()],
            )
            inserted.update(str(row[0]) for row in rows)
        new: list[bool] = []
        for event in events:
            new.append(event.event_id in inserted)
            inserted.discard(event.event_id)  # a repeat later in the batch is not new
        return new

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        rows = await self.db.conn.execute_fetchall(
            "SELECT event_id, incident_id, type, time_utc, arrival, envelope FROM events "
            "WHERE incident_id = ? ORDER BY time_utc, arrival",
            (incident_id,),
        )
        return [StoredEvent.from_row(row) for row in rows]

    async def incident_ids(self) -> list[str]:
        return [
            str(row[0])
            for row in await self.db.conn.execute_fetchall(
                "SELECT DISTINCT incident_id FROM events ORDER BY incident_id"
            )
        ]
