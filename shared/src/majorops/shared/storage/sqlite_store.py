"""A service's store in its own SQLite file: the shared event log plus the service's own tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from majorops.shared.storage.incident_events import KeepsIncidentEvents
from majorops.shared.storage.sqlite import EVENTS_SCHEMA, SqliteDatabase, SqliteEventLog


class SqliteIncidentStore(KeepsIncidentEvents):
    """The file at ``path`` with the event log and the tables of ``schema``; opened by :meth:`open`."""

    def __init__(self, path: Path, schema: Sequence[str]) -> None:
        self.database = SqliteDatabase(path, [EVENTS_SCHEMA, *schema])
        self.events = SqliteEventLog(self.database)

    async def open(self) -> None:
        """Open the file (WAL) and create the tables it lacks."""
        await self.database.open()

    async def close(self) -> None:
        await self.database.close()

    async def ping(self) -> bool:
        """True when the file answers a query (readiness)."""
        return await self.database.ping()
