"""Policy's production store: its own MongoDB database, ``<mongodb_database>_policy``."""

from __future__ import annotations

from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.storage.mongo import MongoDocument, MongoEventLog, mongo_client
from pymongo import AsyncMongoClient


class MongoPolicyStore:
    """:class:`~majorops.policy.ports.PolicyStore` on MongoDB; the client is created in :meth:`open`."""

    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database_name = database
        self._client: AsyncMongoClient[MongoDocument] | None = None
        self._events: MongoEventLog | None = None

    async def open(self) -> None:
        client = mongo_client(self.url, "majorops-policy")
        events = MongoEventLog(client.get_database(self.database_name))
        try:
            # Creating the indexes also proves the server answers, so a bad URL fails at start-up.
            await events.create_indexes()
        except BaseException:
            await client.close()
            raise
        self._client = client
        self._events = events

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._events = None

    @property
    def events(self) -> MongoEventLog:
        if self._events is None:
            raise RuntimeError(f"MongoDB store {self.database_name} is not open")
        return self._events

    async def append_event(self, event: StoredEvent) -> bool:
        return await self.events.append(event)

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        return await self.events.events_for(incident_id)

    async def incident_ids(self) -> list[str]:
        return await self.events.incident_ids()
