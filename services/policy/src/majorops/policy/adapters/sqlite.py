"""Policy's embedded store: one SQLite file in the data dir, shared by every local replica."""

from __future__ import annotations

from pathlib import Path

from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.storage.sqlite import EVENTS_SCHEMA, SqliteDatabase, SqliteEventLog


class SqlitePolicyStore:
    """:class:`~majorops.policy.ports.PolicyStore` in ``<data_dir>/policy.sqlite3``."""

    def __init__(self, path: Path) -> None:
        self.database = SqliteDatabase(path, [EVENTS_SCHEMA])
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
