"""The embedded store: the shared SQLite event log plus reports' decisions and escalations tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.storage.eventlog import StoredEvent, sortable_utc
from majorops.shared.storage.sqlite import EVENTS_SCHEMA, SqliteDatabase, SqliteEventLog

# One row per incident: only the highest revision is ever shown, and policy republishes the full
# decision each time, so older revisions carry nothing the review needs.
DECISIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    incident_id TEXT PRIMARY KEY,
    revision    INTEGER NOT NULL,
    decision    TEXT NOT NULL
);
"""

ESCALATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS escalations (
    escalation_id TEXT PRIMARY KEY,
    incident_id   TEXT NOT NULL,
    fired_at      TEXT NOT NULL,
    escalation    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS escalations_by_incident ON escalations (incident_id, fired_at, escalation_id);
"""


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class SqliteReviewStore:
    """:class:`~majorops.reports.ports.ReviewStore` in one SQLite file (WAL, shared by replicas)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        self.events = SqliteEventLog(db)

    @classmethod
    async def open(cls, path: Path) -> SqliteReviewStore:
        db = SqliteDatabase(path, [EVENTS_SCHEMA, DECISIONS_SCHEMA, ESCALATIONS_SCHEMA])
        await db.open()
        return cls(db)

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> bool:
        return await self.db.ping()

    async def append_event(self, event: StoredEvent) -> bool:
        return await self.events.append(event)

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        return await self.events.events_for(incident_id)

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        # One statement, so two replicas racing on the same incident cannot lower the revision.
        cursor = await self.db.conn.execute(
            "INSERT INTO decisions (incident_id, revision, decision) VALUES (?, ?, ?) "
            "ON CONFLICT (incident_id) DO UPDATE SET revision = excluded.revision, "
            "decision = excluded.decision WHERE excluded.revision > decisions.revision",
            (decision.incident_id, decision.revision, _json(decision.model_dump(mode="json"))),
        )
        return cursor.rowcount == 1

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        async with self.db.conn.execute(
            "SELECT decision FROM decisions WHERE incident_id = ?", (incident_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return AfterActionDecision.model_validate_json(row[0]) if row is not None else None

    async def save_escalation(self, escalation: Escalation) -> bool:
        cursor = await self.db.conn.execute(
            "INSERT OR IGNORE INTO escalations (escalation_id, incident_id, fired_at, escalation) "
            "VALUES (?, ?, ?, ?)",
            (
                escalation.escalation_id,
                escalation.incident_id,
                sortable_utc(escalation.fired_at),
                _json(escalation.model_dump(mode="json")),
            ),
        )
        return cursor.rowcount == 1

    async def escalations_for(self, incident_id: str) -> list[Escalation]:
        async with self.db.conn.execute(
            "SELECT escalation FROM escalations WHERE incident_id = ? ORDER BY fired_at, escalation_id",
            (incident_id,),
        ) as cursor:
            rows = await cursor.fetchall()
        return [Escalation.model_validate_json(row[0]) for row in rows]

    async def knows_incident(self, incident_id: str) -> bool:
        async with self.db.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM events WHERE incident_id = ?) "
            "OR EXISTS (SELECT 1 FROM decisions WHERE incident_id = ?) "
            "OR EXISTS (SELECT 1 FROM escalations WHERE incident_id = ?)",
            (incident_id, incident_id, incident_id),
        ) as cursor:
            row = await cursor.fetchone()
        return bool(row and row[0])
