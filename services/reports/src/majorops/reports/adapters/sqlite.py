"""The embedded store: the shared SQLite event log plus reports' own tables.

Several processes may share the file (WAL). Within one process every write goes through one
lock, because all coroutines share one connection: a statement of one must never land inside
another's transaction. Multi-statement writes run in ``BEGIN IMMEDIATE`` transactions, which
also serialise them against other processes.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from majorops.reports.adapters.sqlite_tables import (
    DECISIONS_SCHEMA,
    ESCALATIONS_SCHEMA,
    ITEM_COLUMNS,
    LISTING_ADDED_COLUMNS,
    LISTING_COLUMNS,
    NARRATIVES_SCHEMA,
    REVIEWS_SCHEMA,
    Conditions,
    as_json,
    as_time,
    item_of,
    listing_of,
)
from majorops.reports.domain.document import Narrative
from majorops.reports.domain.follow_up import EFFECTIVENESS_WINDOW, AlertFire, AlertKey
from majorops.reports.domain.listing import ActionItemRecord, ReviewListing
from majorops.reports.domain.timeline import ReviewStatus
from majorops.reports.ports import ActionItemQuery, ReviewQuery, StoredNarrative, StoredReview
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.storage.eventlog import StoredEvent, sortable_utc
from majorops.shared.storage.incident_events import KeepsIncidentEvents
from majorops.shared.storage.sqlite import EVENTS_SCHEMA, SqliteDatabase, SqliteEventLog


class SqliteReviewStore(KeepsIncidentEvents):
    """:class:`~majorops.reports.ports.ReviewStore` in one SQLite file (WAL, shared by replicas)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        self.events = SqliteEventLog(db)
        self._writing = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteReviewStore:
        db = SqliteDatabase(
            path, [EVENTS_SCHEMA, DECISIONS_SCHEMA, ESCALATIONS_SCHEMA, NARRATIVES_SCHEMA, REVIEWS_SCHEMA]
        )
        await db.open()
        store = cls(db)
        await store._add_listing_columns()
        return store

    async def _add_listing_columns(self) -> None:
        """A ``reviews`` table from before the list showed escalation levels gets those columns,
        and its reviews are marked changed so the assembler fills them. Two replicas opening the
        file at once: the second finds the columns there (or its ``ALTER`` says so) and goes on."""
        have = {row[1] for row in await self._fetchall("PRAGMA table_info(reviews)")}
        missing = [(name, kind) for name, kind in LISTING_ADDED_COLUMNS if name not in have]
        if not missing:
            return
        async with self._transaction():
            for name, kind in missing:
                try:
                    await self.db.conn.execute(f"ALTER TABLE reviews ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):
                        raise
            await self.db.conn.execute(
                "UPDATE reviews SET generation = generation + 1, stale = 1 WHERE etag IS NOT NULL"
            )

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> bool:
        return await self.db.ping()

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One write statement under the lock; the number of rows it changed."""
        async with self._writing:
            cursor = await self.db.conn.execute(sql, params)
            return cursor.rowcount

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        async with self._writing:
            await self.db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self.db.conn.execute("ROLLBACK")
                raise
            await self.db.conn.execute("COMMIT")

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self.db.conn.execute_fetchall(sql, params))

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return next(iter(await self.db.conn.execute_fetchall(sql, params)), None)

    # --- the record ---------------------------------------------------------------------------

    async def append_event(self, event: StoredEvent) -> bool:
        async with self._writing:
            return await self.events.append(event)

    async def append_events(self, events: Sequence[StoredEvent]) -> list[bool]:
        async with self._writing:
            return await self.events.append_many(events)

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        # One statement, so two replicas racing on the same incident cannot lower the revision.
        changed = await self._execute(
            "INSERT INTO decisions (incident_id, revision, decision) VALUES (?, ?, ?) "
            "ON CONFLICT (incident_id) DO UPDATE SET revision = excluded.revision, "
            "decision = excluded.decision WHERE excluded.revision > decisions.revision",
            (decision.incident_id, decision.revision, as_json(decision.model_dump(mode="json"))),
        )
        return changed == 1

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        row = await self._fetchone("SELECT decision FROM decisions WHERE incident_id = ?", (incident_id,))
        return AfterActionDecision.model_validate_json(row[0]) if row is not None else None

    async def save_escalation(self, escalation: Escalation) -> bool:
        changed = await self._execute(
            "INSERT OR IGNORE INTO escalations (escalation_id, incident_id, fired_at, escalation) "
            "VALUES (?, ?, ?, ?)",
            (
                escalation.escalation_id,
                escalation.incident_id,
                sortable_utc(escalation.fired_at),
                as_json(escalation.model_dump(mode="json")),
            ),
        )
        return changed == 1

    async def escalations_for(self, incident_id: str) -> list[Escalation]:
        rows = await self._fetchall(
            "SELECT escalation FROM escalations WHERE incident_id = ? ORDER BY fired_at, escalation_id",
            (incident_id,),
        )
        return [Escalation.model_validate_json(row[0]) for row in rows]

    async def knows_incident(self, incident_id: str) -> bool:
        row = await self._fetchone(
            "SELECT EXISTS (SELECT 1 FROM events WHERE incident_id = ?) "
            "OR EXISTS (SELECT 1 FROM decisions WHERE incident_id = ?) "
            "OR EXISTS (SELECT 1 FROM escalations WHERE incident_id = ?)",
            (incident_id, incident_id, incident_id),
        )
        return bool(row and row[0])

    # --- the narrative ------------------------------------------------------------------------

    async def narrative_for(self, incident_id: str) -> StoredNarrative:
        row = await self._fetchone(
            "SELECT narrative, version FROM narratives WHERE incident_id = ?", (incident_id,)
        )
        if row is None:
            return StoredNarrative()
        return StoredNarrative(Narrative.model_validate_json(row[0]), int(row[1]))

    async def save_narrative(
        self, incident_id: str, narrative: Narrative, expected_version: int
    ) -> int | None:
        body = as_json(narrative.model_dump(mode="json", exclude_unset=False))
        if expected_version == 0:
            changed = await self._execute(
                "INSERT OR IGNORE INTO narratives (incident_id, version, narrative) VALUES (?, 1, ?)",
                (incident_id, body),
            )
        else:
            changed = await self._execute(
                "UPDATE narratives SET version = version + 1, narrative = ? WHERE incident_id = ? AND version = ?",
                (body, incident_id, expected_version),
            )
        return expected_version + 1 if changed == 1 else None

    # --- materialised reviews -----------------------------------------------------------------

    async def mark_changed(self, incident_id: str) -> int:
        async with self._writing:
            cursor = await self.db.conn.execute(
                "INSERT INTO reviews (incident_id, generation, stale) VALUES (?, 1, 1) "
                "ON CONFLICT (incident_id) DO UPDATE SET generation = generation + 1, stale = 1 "
                "RETURNING generation",
                (incident_id,),
            )
            row = await cursor.fetchone()
            await cursor.close()
        assert row is not None
        return int(row[0])

    async def stale_reviews(self, limit: int) -> list[str]:
        rows = await self._fetchall("SELECT incident_id FROM reviews WHERE stale = 1 LIMIT ?", (limit,))
        return [str(row[0]) for row in rows]

    async def save_review(
        self, review: StoredReview, action_items: Sequence[ActionItemRecord], generation: int
    ) -> bool:
        listing = review.listing
        incident_id = listing.incident_id
        async with self._transaction():
            cursor = await self.db.conn.execute(
                "UPDATE reviews SET assembled_generation = ?, stale = (generation > ?), etag = ?, "
                "narrative_version = ?, status = ?, requirement = ?, severity = ?, title = ?, "
                "next_deadline = ?, updated_at = ?, document = ?, next_deadline_name = ?, "
                "escalation_level = ?, escalations_fired = ? "
                "WHERE incident_id = ? AND assembled_generation < ?",
                (
                    generation,
                    generation,
                    review.etag,
                    review.narrative_version,
                    listing.status.value,
                    listing.requirement.value if listing.requirement else None,
                    listing.severity.value if listing.severity else None,
                    listing.title,
                    as_time(listing.next_deadline),
                    as_time(listing.updated_at),
                    as_json(review.document),
                    listing.next_deadline_name,
                    listing.escalation_level,
                    listing.escalations_fired,
                    incident_id,
                    generation,
                ),
            )
            if cursor.rowcount != 1:
                return False  # a newer assembly is stored (or the incident was never marked)
            await self.db.conn.execute("DELETE FROM action_items WHERE incident_id = ?", (incident_id,))
            await self.db.conn.executemany(
                "INSERT INTO action_items (incident_id, item_id, title, owner, due, due_at, status, completed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        incident_id,
                        item.item_id,
                        item.title,
                        item.owner,
                        item.due,
                        as_time(item.due_at),
                        item.status,
                        as_time(item.completed_at),
                    )
                    for item in action_items
                ],
            )
            await self.db.conn.execute("DELETE FROM review_links WHERE incident_id = ?", (incident_id,))
            await self.db.conn.executemany(
                "INSERT OR IGNORE INTO review_links (incident_id, earlier_id) VALUES (?, ?)",
                [(incident_id, earlier) for earlier in review.repeat_of],
            )
        return True

    async def review(self, incident_id: str) -> StoredReview | None:
        row = await self._fetchone(
            f"SELECT etag, narrative_version, document, stale, {LISTING_COLUMNS} FROM reviews "  # noqa: S608 (constant columns, "?" placeholders)
            "WHERE incident_id = ? AND etag IS NOT NULL",
            (incident_id,),
        )
        if row is None:
            return None
        links = await self._fetchall(
            "SELECT earlier_id FROM review_links WHERE incident_id = ? ORDER BY earlier_id", (incident_id,)
        )
        return StoredReview(
            listing=listing_of(row[4:]),
            etag=row[0],
            narrative_version=int(row[1]),
            document=json.loads(row[2]),
            repeat_of=tuple(str(link[0]) for link in links),
            stale=bool(row[3]),
        )

    async def list_reviews(self, query: ReviewQuery) -> list[ReviewListing]:
        found = Conditions(["etag IS NOT NULL"])
        if query.status is not None:
            found.add("status = ?", query.status.value)
        if query.requirement is not None:
            found.add("requirement = ?", query.requirement.value)
        found.overdue("next_deadline IS NOT NULL AND next_deadline <= ?", query.overdue, query.now)
        if query.after is not None:
            found.add("incident_id > ?", query.after)
        rows = await self._fetchall(
            f"SELECT {LISTING_COLUMNS} FROM reviews {found.clause()} ORDER BY incident_id LIMIT ?",  # noqa: S608 (constant columns, "?" placeholders)
            (*found.params, query.limit),
        )
        return [listing_of(row) for row in rows]

    async def action_items_of(self, incident_id: str) -> list[ActionItemRecord]:
        rows = await self._fetchall(
            f"SELECT {ITEM_COLUMNS} FROM action_items WHERE incident_id = ? ORDER BY item_id",  # noqa: S608
            (incident_id,),
        )
        return [item_of(row) for row in rows]

    async def list_action_items(self, query: ActionItemQuery) -> list[ActionItemRecord]:
        found = Conditions()
        if query.open is not None:
            found.add("status = ?", "open" if query.open else "completed")
        found.overdue("status = 'open' AND due_at IS NOT NULL AND due_at <= ?", query.overdue, query.now)
        if query.after is not None:
            found.add("(incident_id, item_id) > (?, ?)", *query.after)
        rows = await self._fetchall(
            f"SELECT {ITEM_COLUMNS} FROM action_items {found.clause()} ORDER BY incident_id, item_id LIMIT ?",  # noqa: S608 (constant columns, "?" placeholders)
            (*found.params, query.limit),
        )
        return [item_of(row) for row in rows]

    async def incidents_repeating(self, incident_id: str) -> list[str]:
        rows = await self._fetchall(
            "SELECT incident_id FROM review_links WHERE earlier_id = ? ORDER BY incident_id", (incident_id,)
        )
        return [str(row[0]) for row in rows]

    # --- alert fires across incidents ---------------------------------------------------------

    async def record_alert_fire(self, fire: AlertFire) -> bool:
        changed = await self._execute(
            "INSERT OR IGNORE INTO alert_fires (event_id, incident_id, alert_name, service, fired_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (fire.event_id, fire.incident_id, fire.alert_name, fire.service, sortable_utc(fire.fired_at)),
        )
        return changed == 1

    async def alert_fires(
        self, keys: Sequence[AlertKey], after: datetime, until: datetime
    ) -> list[AlertFire]:
        fires: list[AlertFire] = []
        for key in keys:
            rows = await self._fetchall(
                "SELECT event_id, incident_id, alert_name, service, fired_at FROM alert_fires "
                "WHERE alert_name = ? AND service IS ? AND fired_at > ? AND fired_at <= ?",
                (key.alert_name, key.service, sortable_utc(after), sortable_utc(until)),
            )
            fires += [
                AlertFire(event_id=r[0], incident_id=r[1], alert_name=r[2], service=r[3], fired_at=r[4])
                for r in rows
            ]
        return sorted(fires, key=lambda f: (f.fired_at, f.event_id))

    async def incidents_to_recheck(self, key: AlertKey, fired_at: datetime) -> list[str]:
        rows = await self._fetchall(
            "SELECT DISTINCT f.incident_id FROM alert_fires f "
            "JOIN reviews r ON r.incident_id = f.incident_id AND r.status = ? "
            "WHERE f.alert_name = ? AND f.service IS ? AND EXISTS ("
            "  SELECT 1 FROM action_items a WHERE a.incident_id = f.incident_id "
            "  AND a.completed_at >= ? AND a.completed_at < ?) "
            "ORDER BY f.incident_id",
            (
                ReviewStatus.PUBLISHED.value,
                key.alert_name,
                key.service,
                sortable_utc(fired_at - EFFECTIVENESS_WINDOW),
                sortable_utc(fired_at),
            ),
        )
        return [str(row[0]) for row in rows]
