"""Reports' own tables in the SQLite file: their schema, and their rows as the domain's records.

The event log's table is the shared one (:data:`majorops.shared.storage.sqlite.EVENTS_SCHEMA`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from majorops.reports.domain.listing import ActionItemRecord, ReviewListing
from majorops.reports.domain.timeline import ReviewStatus
from majorops.shared.decisions import Requirement
from majorops.shared.events import Severity, parse_rfc3339
from majorops.shared.storage.eventlog import sortable_utc

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

NARRATIVES_SCHEMA = """
CREATE TABLE IF NOT EXISTS narratives (
    incident_id TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    narrative   TEXT NOT NULL
);
"""

# ``generation`` counts the changes of the incident, ``assembled_generation`` the one the stored
# document was assembled at; ``stale`` = generation moved past it (an assembly is due).
REVIEWS_SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    incident_id          TEXT PRIMARY KEY,
    generation           INTEGER NOT NULL DEFAULT 0,
    assembled_generation INTEGER NOT NULL DEFAULT 0,
    stale                INTEGER NOT NULL DEFAULT 1,
    etag                 TEXT,
    narrative_version    INTEGER NOT NULL DEFAULT 0,
    status               TEXT,
    requirement          TEXT,
    severity             TEXT,
    title                TEXT,
    next_deadline        TEXT,
    updated_at           TEXT,
    document             TEXT,
    next_deadline_name   TEXT,
    escalation_level     INTEGER NOT NULL DEFAULT 0,
    escalations_fired    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS reviews_by_status ON reviews (status, requirement, incident_id);
CREATE INDEX IF NOT EXISTS reviews_by_requirement ON reviews (requirement, incident_id);
CREATE INDEX IF NOT EXISTS reviews_by_next_deadline ON reviews (next_deadline);
CREATE INDEX IF NOT EXISTS reviews_stale ON reviews (incident_id) WHERE stale = 1;

CREATE TABLE IF NOT EXISTS review_links (
    incident_id TEXT NOT NULL,
    earlier_id  TEXT NOT NULL,
    PRIMARY KEY (incident_id, earlier_id)
);
CREATE INDEX IF NOT EXISTS review_links_by_earlier ON review_links (earlier_id, incident_id);

CREATE TABLE IF NOT EXISTS action_items (
    incident_id  TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    title        TEXT NOT NULL,
    owner        TEXT,
    due          TEXT,
    due_at       TEXT,
    status       TEXT NOT NULL,
    completed_at TEXT,
    PRIMARY KEY (incident_id, item_id)
);
CREATE INDEX IF NOT EXISTS action_items_by_status_due ON action_items (status, due_at);
CREATE INDEX IF NOT EXISTS action_items_completed ON action_items (completed_at) WHERE completed_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS alert_fires (
    event_id    TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    alert_name  TEXT NOT NULL,
    service     TEXT,
    fired_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_fires_by_alert ON alert_fires (alert_name, service, fired_at);
CREATE INDEX IF NOT EXISTS alert_fires_by_incident ON alert_fires (incident_id);
"""


def as_json(value: Any) -> str:
    """Compact JSON text, as the tables keep documents."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def as_time(value: datetime | None) -> str | None:
    """Fixed-width UTC text (string order is time order), or ``None``."""
    return sortable_utc(value) if value is not None else None


def parse_time(value: str | None) -> datetime | None:
    """A time as :func:`as_time` wrote it, or ``None``."""
    return parse_rfc3339(value) if value is not None else None


@dataclass
class Conditions:
    """A ``WHERE`` clause of the list queries, built condition by condition with its ``?`` parameters."""

    conditions: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, condition: str, *params: Any) -> None:
        self.conditions.append(condition)
        self.params.extend(params)

    def overdue(self, condition: str, overdue: bool | None, now: datetime) -> None:
        """``condition`` (its one ``?`` is ``now``) when ``overdue`` is true, its negation when false."""
        if overdue is not None:
            self.add(condition if overdue else f"NOT ({condition})", sortable_utc(now))

    def clause(self) -> str:
        return f"WHERE {' AND '.join(self.conditions)}" if self.conditions else ""


LISTING_COLUMNS = (
    "incident_id, title, severity, requirement, status, next_deadline, updated_at, "
    "next_deadline_name, escalation_level, escalations_fired"
)
LISTING_ADDED_COLUMNS = (
    ("next_deadline_name", "TEXT"),
    ("escalation_level", "INTEGER NOT NULL DEFAULT 0"),
    ("escalations_fired", "INTEGER NOT NULL DEFAULT 0"),
)
"""Columns a ``reviews`` table made before the list showed escalation levels lacks: added at open,
and its reviews assembled again to fill them (:meth:`SqliteReviewStore.open`)."""
ITEM_COLUMNS = "incident_id, item_id, title, owner, due, due_at, status, completed_at"


def listing_of(row: Any) -> ReviewListing:
    """The listing of a ``reviews`` row of :data:`LISTING_COLUMNS`."""
    updated_at = parse_time(row[6])
    assert updated_at is not None
    return ReviewListing(
        incident_id=row[0],
        title=row[1],
        severity=Severity(row[2]) if row[2] else None,
        requirement=Requirement(row[3]) if row[3] else None,
        status=ReviewStatus(row[4]),
        next_deadline=parse_time(row[5]),
        updated_at=updated_at,
        next_deadline_name=row[7],
        escalation_level=int(row[8] or 0),
        escalations_fired=int(row[9] or 0),
    )


def item_of(row: Any) -> ActionItemRecord:
    """The action item of an ``action_items`` row of :data:`ITEM_COLUMNS`."""
    return ActionItemRecord(
        incident_id=row[0],
        item_id=row[1],
        title=row[2],
        owner=row[3],
        due=row[4],
        due_at=parse_time(row[5]),
        status="completed" if row[6] == "completed" else "open",
        completed_at=parse_time(row[7]),
    )
