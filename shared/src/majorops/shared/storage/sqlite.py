"""The embedded store: one SQLite file per service in the data dir, WAL mode, shared by replicas."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

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


class SqliteDatabase:
    """An aiosqlite connection with the pragmas several processes need to share one file safely."""

    def __init__(self, path: Path, schema: Sequence[str]) -> None:
        self.path = path
        self._schema = schema
        self._conn: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(self.path, timeout=30.0, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
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
            (
                event.event_id,
                event.incident_id,
                event.type,
                event.time_utc,
                event.arrival,
                event.envelope_json(),
            ),
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
                [
                    value
                    for e in chunk
                    for value in (e.event_id, e.incident_id, e.type, e.time_utc, e.arrival, e.envelope_json())
                ],
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
        return [_row_to_event(row) for row in rows]

    async def incident_ids(self) -> list[str]:
        return [
            str(row[0])
            for row in await self.db.conn.execute_fetchall(
                "SELECT DISTINCT incident_id FROM events ORDER BY incident_id"
            )
        ]


def _row_to_event(row: Any) -> StoredEvent:
    return StoredEvent(
        event_id=row[0],
        incident_id=row[1],
        type=row[2],
        time_utc=row[3],
        arrival=int(row[4]),
        envelope=json.loads(row[5]),
    )
