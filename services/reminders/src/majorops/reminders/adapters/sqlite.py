"""Reminders' embedded store: one SQLite file in the data dir, shared by every local replica."""

from __future__ import annotations

import json
from pathlib import Path

from majorops.shared.decisions import AfterActionDecision
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.storage.sqlite import EVENTS_SCHEMA, SqliteDatabase, SqliteEventLog

DECISIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    incident_id TEXT PRIMARY KEY,
    revision    INTEGER NOT NULL,
    decision    TEXT NOT NULL
);
"""


class SqliteRemindersStore:
    """:class:`~majorops.reminders.ports.RemindersStore` in ``<data_dir>/reminders.sqlite3``."""

    def __init__(self, path: Path) -> None:
        self.database = SqliteDatabase(path, [EVENTS_SCHEMA, DECISIONS_SCHEMA])
        self.events = SqliteEventLog(self.database)

    async def open(self) -> None:
        await self.database.open()

    async def close(self) -> None:
        await self.database.close()

    async def append_event(self, event: StoredEvent) -> bool:
        return await self.events.append(event)

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        return await self.events.events_for(incident_id)

    async def incident_ids(self) -> list[str]:
        return await self.events.incident_ids()

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        # One statement, so two replicas racing with different revisions still keep the highest.
        cursor = await self.database.conn.execute(
            "INSERT INTO decisions (incident_id, revision, decision) VALUES (?, ?, ?) "
            "ON CONFLICT (incident_id) DO UPDATE SET revision = excluded.revision, "
            "decision = excluded.decision WHERE excluded.revision > decisions.revision",
            (decision.incident_id, decision.revision, decision.model_dump_json()),
        )
        return cursor.rowcount == 1

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        async with self.database.conn.execute(
            "SELECT decision FROM decisions WHERE incident_id = ?", (incident_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return AfterActionDecision.model_validate(json.loads(row[0]))
