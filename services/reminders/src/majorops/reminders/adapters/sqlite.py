"""Reminders' embedded store: one SQLite file in the data dir, shared by every local replica.

Every write is a single statement (an upsert, a conditional update, an ``INSERT … ON CONFLICT DO
NOTHING RETURNING``), so it is atomic on its own and replicas sharing the file need no lock and no
explicit transaction; SQLite serialises the writers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from majorops.reminders.plan import Notice, NoticeCategory
from majorops.reminders.ports import DueIncident, StoredPlan
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.storage.eventlog import sortable_utc
from majorops.shared.storage.sqlite_store import SqliteIncidentStore

DECISIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    incident_id TEXT PRIMARY KEY,
    revision    INTEGER NOT NULL,
    decision    TEXT NOT NULL
);
"""

SCHEDULE_SCHEMA = """
CREATE TABLE IF NOT EXISTS obligations (
    incident_id      TEXT PRIMARY KEY,
    version          INTEGER NOT NULL,
    next_fire_at     TEXT,
    obligations_json TEXT NOT NULL DEFAULT '[]',
    pending          INTEGER NOT NULL DEFAULT 0,
    settings_key     TEXT,
    planned_at       TEXT
);
CREATE INDEX IF NOT EXISTS obligations_by_next_fire ON obligations (next_fire_at)
    WHERE next_fire_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS outbox (
    notice_id    TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL,
    category     TEXT NOT NULL,
    subject      TEXT NOT NULL,
    payload      BLOB NOT NULL,
    due_at       TEXT NOT NULL,
    status       TEXT NOT NULL,
    claimed_at   TEXT NOT NULL,
    claimed_by   TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_by_incident ON outbox (incident_id);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (claimed_at) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS webhook_outcomes (
    escalation_id TEXT NOT NULL,
    target_key    TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    settled_at    TEXT NOT NULL,
    PRIMARY KEY (escalation_id, target_key)
);

CREATE TABLE IF NOT EXISTS webhook_levels (
    obligation_key TEXT NOT NULL,
    target_key     TEXT NOT NULL,
    level          INTEGER NOT NULL,
    claimed_at     TEXT NOT NULL,
    PRIMARY KEY (obligation_key, target_key)
);
"""

# SQLite allows 32766 bound parameters per statement; multi-row statements stay well below.
_ROWS_PER_STATEMENT = 400
T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = _ROWS_PER_STATEMENT) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parse_utc(text: str) -> datetime:
    """The inverse of :func:`sortable_utc`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class SqliteRemindersStore(SqliteIncidentStore):
    """:class:`~majorops.reminders.ports.RemindersStore` in ``<data_dir>/reminders.sqlite3``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, [DECISIONS_SCHEMA, SCHEDULE_SCHEMA])

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        # One thread hop for the statement and all its rows: a RETURNING statement is finished (and
        # so committed) before any other statement of this connection runs.
        return list(await self.database.conn.execute_fetchall(sql, params))

    # --- the record -------------------------------------------------------------------------------

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
        rows = await self._rows("SELECT decision FROM decisions WHERE incident_id = ?", (incident_id,))
        if not rows:
            return None
        return AfterActionDecision.model_validate(json.loads(rows[0][0]))

    # --- the schedule -----------------------------------------------------------------------------

    async def mark_changed(self, incident_id: str, at: datetime) -> None:
        await self.database.conn.execute(
            "INSERT INTO obligations (incident_id, version, next_fire_at) VALUES (?, 1, ?) "
            "ON CONFLICT (incident_id) DO UPDATE SET version = version + 1, "
            "next_fire_at = CASE WHEN next_fire_at IS NULL OR excluded.next_fire_at < next_fire_at "
            "THEN excluded.next_fire_at ELSE next_fire_at END",
            (incident_id, sortable_utc(at)),
        )

    async def mark_unplanned(self, settings_key: str, at: datetime) -> int:
        # ``WHERE true`` tells SQLite's parser that ON CONFLICT belongs to the INSERT, not a join.
        cursor = await self.database.conn.execute(
            "INSERT INTO obligations (incident_id, version, next_fire_at) "
            "SELECT incident_id, 1, ? FROM "
            "(SELECT incident_id FROM events UNION SELECT incident_id FROM decisions) WHERE true "
            "ON CONFLICT (incident_id) DO UPDATE SET version = version + 1, "
            "next_fire_at = CASE WHEN next_fire_at IS NULL OR excluded.next_fire_at < next_fire_at "
            "THEN excluded.next_fire_at ELSE next_fire_at END "
            "WHERE settings_key IS NULL OR settings_key <> ?",
            (sortable_utc(at), settings_key),
        )
        return max(cursor.rowcount, 0)

    async def incidents_due(self, now: datetime, limit: int) -> list[DueIncident]:
        rows = await self._rows(
            "SELECT incident_id, version FROM obligations WHERE next_fire_at <= ? "
            "ORDER BY next_fire_at LIMIT ?",
            (sortable_utc(now), limit),
        )
        return [DueIncident(str(row[0]), int(row[1])) for row in rows]

    async def save_plans(self, plans: Sequence[StoredPlan]) -> set[str]:
        saved: set[str] = set()
        for chunk in _chunks(plans):
            values = ", ".join("(?, ?, ?, ?, ?, ?, ?)" for _ in chunk)
            params: list[Any] = []
            for p in chunk:
                params.extend(
                    (
                        p.incident_id,
                        p.version,
                        sortable_utc(p.next_fire_at) if p.next_fire_at else None,
                        p.obligations_json,
                        p.pending,
                        p.settings_key,
                        sortable_utc(p.planned_at),
                    )
                )
            # Optimistic concurrency: a plan is stored only if no event or decision of the incident
            # arrived since it was derived (same version); otherwise the newer mark keeps it due.
            rows = await self._rows(
                f"WITH plan (incident_id, version, next_fire_at, obligations_json, pending, settings_key, "  # noqa: S608
                f"planned_at) AS (VALUES {values}) "
                "UPDATE obligations SET next_fire_at = plan.next_fire_at, "
                "obligations_json = plan.obligations_json, pending = plan.pending, "
                "settings_key = plan.settings_key, planned_at = plan.planned_at "
                "FROM plan WHERE obligations.incident_id = plan.incident_id "
                "AND obligations.version = plan.version RETURNING obligations.incident_id",
                params,
            )
            saved.update(str(row[0]) for row in rows)
        return saved

    async def postpone(self, incident_id: str, version: int, until: datetime) -> None:
        await self.database.conn.execute(
            "UPDATE obligations SET next_fire_at = ? WHERE incident_id = ? AND version = ?",
            (sortable_utc(until), incident_id, version),
        )

    async def earliest_fire_at(self) -> datetime | None:
        rows = await self._rows(
            "SELECT next_fire_at FROM obligations WHERE next_fire_at IS NOT NULL "
            "ORDER BY next_fire_at LIMIT 1"
        )
        return _parse_utc(rows[0][0]) if rows else None

    async def pending_obligations(self) -> int:
        rows = await self._rows("SELECT COALESCE(SUM(pending), 0) FROM obligations")
        return int(rows[0][0])

    # --- the outbox -------------------------------------------------------------------------------

    async def claim_notices(
        self, notices: Sequence[Notice], claimed_at: datetime, claimed_by: str
    ) -> set[str]:
        won: set[str] = set()
        for chunk in _chunks(notices):
            values = ", ".join("(?, ?, ?, ?, ?, ?, 'pending', ?, ?)" for _ in chunk)
            params: list[Any] = []
            for n in chunk:
                params.extend(
                    (
                        n.notice_id,
                        n.incident_id,
                        n.category.value,
                        n.subject,
                        n.payload,
                        sortable_utc(n.due_at),
                        sortable_utc(claimed_at),
                        claimed_by,
                    )
                )
            # The primary key decides between replicas: only the rows this statement inserted return.
            rows = await self._rows(
                "INSERT INTO outbox (notice_id, incident_id, category, subject, payload, due_at, status, "  # noqa: S608
                f"claimed_at, claimed_by) VALUES {values} "
                "ON CONFLICT (notice_id) DO NOTHING RETURNING notice_id",
                params,
            )
            won.update(str(row[0]) for row in rows)
        return won

    async def mark_published(self, notice_ids: Sequence[str], at: datetime) -> None:
        for chunk in _chunks(notice_ids):
            marks = ", ".join("?" for _ in chunk)
            await self.database.conn.execute(
                f"UPDATE outbox SET status = 'published', published_at = ? "  # noqa: S608
                f"WHERE status = 'pending' AND notice_id IN ({marks})",
                (sortable_utc(at), *chunk),
            )

    async def pending_notices(self, claimed_before: datetime, limit: int) -> list[Notice]:
        rows = await self._rows(
            "SELECT notice_id, incident_id, category, subject, payload, due_at FROM outbox "
            "WHERE status = 'pending' AND claimed_at < ? ORDER BY claimed_at LIMIT ?",
            (sortable_utc(claimed_before), limit),
        )
        return [
            Notice(
                notice_id=str(row[0]),
                incident_id=str(row[1]),
                category=NoticeCategory(row[2]),
                subject=str(row[3]),
                payload=bytes(row[4]),
                due_at=_parse_utc(row[5]),
            )
            for row in rows
        ]

    async def sent_notice_ids(self, incident_id: str) -> set[str]:
        rows = await self._rows("SELECT notice_id FROM outbox WHERE incident_id = ?", (incident_id,))
        return {str(row[0]) for row in rows}

    # --- webhook outcomes -------------------------------------------------------------------------

    async def webhook_outcome(self, escalation_id: str, target_key: str) -> str | None:
        rows = await self._rows(
            "SELECT outcome FROM webhook_outcomes WHERE escalation_id = ? AND target_key = ?",
            (escalation_id, target_key),
        )
        return str(rows[0][0]) if rows else None

    async def save_webhook_outcome(
        self, escalation_id: str, target_key: str, outcome: str, at: datetime
    ) -> None:
        await self.database.conn.execute(
            "INSERT INTO webhook_outcomes (escalation_id, target_key, outcome, settled_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (escalation_id, target_key) DO NOTHING",
            (escalation_id, target_key, outcome, sortable_utc(at)),
        )

    async def claim_webhook_level(
        self, obligation_key: str, target_key: str, level: int, at: datetime
    ) -> bool:
        # One statement: of two replicas claiming levels 2 and 3 at once, 3 always ends up recorded.
        cursor = await self.database.conn.execute(
            "INSERT INTO webhook_levels (obligation_key, target_key, level, claimed_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (obligation_key, target_key) DO UPDATE SET level = excluded.level, "
            "claimed_at = excluded.claimed_at WHERE webhook_levels.level <= excluded.level",
            (obligation_key, target_key, level, sortable_utc(at)),
        )
        return cursor.rowcount > 0

    async def webhook_level(self, obligation_key: str, target_key: str) -> int | None:
        rows = await self._rows(
            "SELECT level FROM webhook_levels WHERE obligation_key = ? AND target_key = ?",
            (obligation_key, target_key),
        )
        return int(rows[0][0]) if rows else None
