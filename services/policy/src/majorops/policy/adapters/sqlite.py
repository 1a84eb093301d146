"""Policy's embedded store: one SQLite file in the data dir, shared by every local replica.

Besides the event log it keeps, per incident, one ``decisions`` row: the number of events stored
(maintained by a trigger, in the same statement as the event's insert), the latest decision
revision with its content and whether it was published. ``event_sequence`` numbers each
incident's events in the order they were stored, so a replica whose cached facts are behind reads
only the events it has not folded. ``root_causes`` is the fingerprint index of repeat incidents.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from pathlib import Path

from majorops.policy.domain.repeats import RootCauseSighting
from majorops.policy.ports import IncidentState, IndexedRootCause, StoredDecision
from majorops.shared.decisions import DecisionContent
from majorops.shared.storage.eventlog import StoredEvent, sortable_utc
from majorops.shared.storage.sqlite_store import SqliteIncidentStore

POLICY_SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS decisions (
    incident_id  TEXT PRIMARY KEY,
    event_count  INTEGER NOT NULL DEFAULT 0,
    revision     INTEGER NOT NULL DEFAULT 0,
    content      TEXT,
    derived_from INTEGER NOT NULL DEFAULT 0,
    published    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS decisions_unpublished ON decisions (incident_id) WHERE published = 0;
CREATE TABLE IF NOT EXISTS event_sequence (
    incident_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS root_causes (
    incident_id          TEXT PRIMARY KEY,
    fingerprint          TEXT NOT NULL,
    identified_at        TEXT NOT NULL,
    previous_fingerprint TEXT,
    derived_from         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS root_causes_by_fingerprint ON root_causes (fingerprint);
-- Events stored by a policy older than these tables: count and number them once (in insertion
-- order), inside this transaction, before the trigger below takes over.
INSERT INTO decisions (incident_id, event_count)
    SELECT incident_id, COUNT(*) FROM events WHERE NOT EXISTS (SELECT 1 FROM event_sequence)
    GROUP BY incident_id
    ON CONFLICT (incident_id) DO UPDATE SET event_count = excluded.event_count;
INSERT INTO event_sequence (incident_id, seq, event_id)
    SELECT incident_id, ROW_NUMBER() OVER (PARTITION BY incident_id ORDER BY rowid), event_id
    FROM events WHERE NOT EXISTS (SELECT 1 FROM event_sequence);
-- Part of the event's insert statement, so the count can never disagree with the event log; an
-- ignored duplicate insert fires nothing.
CREATE TRIGGER IF NOT EXISTS events_counted AFTER INSERT ON events BEGIN
    INSERT INTO decisions (incident_id, event_count) VALUES (NEW.incident_id, 1)
        ON CONFLICT (incident_id) DO UPDATE SET event_count = event_count + 1;
    INSERT INTO event_sequence (incident_id, seq, event_id)
        SELECT NEW.incident_id, event_count, NEW.event_id FROM decisions
        WHERE incident_id = NEW.incident_id;
END;
COMMIT;
"""


class SqlitePolicyStore(SqliteIncidentStore):
    """:class:`~majorops.policy.ports.PolicyStore` in ``<data_dir>/policy.sqlite3``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, [POLICY_SCHEMA])

    async def events_stored_after(self, incident_id: str, position: int) -> tuple[list[StoredEvent], int]:
        rows = list(
            await self.database.conn.execute_fetchall(
                "SELECT s.seq, e.event_id, e.incident_id, e.type, e.time_utc, e.arrival, e.envelope "
                "FROM event_sequence s JOIN events e ON e.event_id = s.event_id "
                "WHERE s.incident_id = ? AND s.seq > ? ORDER BY s.seq",
                (incident_id, position),
            )
        )
        events = [
            StoredEvent(
                event_id=row[1],
                incident_id=row[2],
                type=row[3],
                time_utc=row[4],
                arrival=int(row[5]),
                envelope=json.loads(row[6]),
            )
            for row in rows
        ]
        return events, (int(rows[-1][0]) if rows else position)

    async def incident_state(self, incident_id: str) -> IncidentState:
        row = next(
            iter(
                await self.database.conn.execute_fetchall(
                    "SELECT d.event_count, d.revision, d.content, d.published, "
                    "r.fingerprint, r.identified_at, r.previous_fingerprint "
                    "FROM (SELECT ? AS incident_id) i "
                    "LEFT JOIN decisions d ON d.incident_id = i.incident_id "
                    "LEFT JOIN root_causes r ON r.incident_id = i.incident_id",
                    (incident_id,),
                )
            ),
            None,
        )
        assert row is not None  # one row, whatever is stored
        event_count, revision, content, published, fingerprint, identified_at, previous = row
        decision = None
        if content is not None:
            decision = StoredDecision(
                incident_id,
                int(revision),
                DecisionContent.model_validate_json(content),
                bool(published),
            )
        root_cause = None
        if fingerprint is not None:
            sighting = RootCauseSighting(incident_id, str(fingerprint), datetime.fromisoformat(identified_at))
            root_cause = IndexedRootCause(sighting, previous)
        return IncidentState(incident_id, int(event_count or 0), decision, root_cause)

    async def save_decision(
        self, incident_id: str, content: DecisionContent, expected_revision: int, event_count: int
    ) -> bool:
        # The row exists from the incident's first event on (the trigger creates it). Checking the
        # event count in the same statement makes a decision derived from a stale view impossible.
        cursor = await self.database.conn.execute(
            "UPDATE decisions SET revision = revision + 1, content = ?, derived_from = ?, published = 0 "
            "WHERE incident_id = ? AND revision = ? AND event_count = ?",
            (content.model_dump_json(), event_count, incident_id, expected_revision, event_count),
        )
        return cursor.rowcount == 1

    async def mark_published(self, incident_id: str, revision: int) -> None:
        await self.database.conn.execute(
            "UPDATE decisions SET published = 1 WHERE incident_id = ? AND revision = ? AND published = 0",
            (incident_id, revision),
        )

    async def unpublished_decisions(self) -> list[StoredDecision]:
        rows = await self.database.conn.execute_fetchall(
            "SELECT incident_id, revision, content FROM decisions "
            "WHERE published = 0 AND content IS NOT NULL ORDER BY incident_id"
        )
        return [
            StoredDecision(str(row[0]), int(row[1]), DecisionContent.model_validate_json(row[2]), False)
            for row in rows
        ]

    async def index_root_cause(self, sighting: RootCauseSighting, event_count: int) -> bool:
        cursor = await self.database.conn.execute(
            "INSERT INTO root_causes (incident_id, fingerprint, identified_at, previous_fingerprint, "
            "derived_from) VALUES (?, ?, ?, NULL, ?) "
            "ON CONFLICT (incident_id) DO UPDATE SET "
            "previous_fingerprint = CASE WHEN root_causes.fingerprint = excluded.fingerprint "
            "THEN root_causes.previous_fingerprint ELSE root_causes.fingerprint END, "
            "fingerprint = excluded.fingerprint, identified_at = excluded.identified_at, "
            "derived_from = excluded.derived_from "
            "WHERE excluded.derived_from >= root_causes.derived_from",
            (sighting.incident_id, sighting.fingerprint, sortable_utc(sighting.identified_at), event_count),
        )
        return cursor.rowcount == 1

    async def root_causes_with(self, fingerprints: Collection[str]) -> list[RootCauseSighting]:
        wanted = sorted(set(fingerprints))
        if not wanted:
            return []
        # Only "?" placeholders are formatted in; the values go as parameters.
        marks = ", ".join("?" for _ in wanted)
        rows = await self.database.conn.execute_fetchall(
            f"SELECT incident_id, fingerprint, identified_at FROM root_causes WHERE fingerprint IN ({marks})",  # noqa: S608
            wanted,
        )
        return [RootCauseSighting(str(r[0]), str(r[1]), datetime.fromisoformat(r[2])) for r in rows]
