"""A service's store in its own MongoDB database: the shared event log plus the service's collections.

The client is created in the service's ``open`` (never at import); until then, and after
:meth:`MongoIncidentStore.close`, using the store raises "not open".
"""

from __future__ import annotations

from pymongo import AsyncMongoClient

from majorops.shared.storage.incident_events import KeepsIncidentEvents
from majorops.shared.storage.mongo import MongoDocument, MongoEventLog


class MongoIncidentStore(KeepsIncidentEvents):
    """The database ``database`` at ``url``; a service's ``open`` sets ``_client`` and ``_events``."""

    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database_name = database
        self._client: AsyncMongoClient[MongoDocument] | None = None
        self._events: MongoEventLog | None = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._events = None
            self._forget_collections()

    def _forget_collections(self) -> None:
        """Drop the service's collections, which belong to the closed client."""

    async def ping(self) -> bool:
        """True when the server answers (readiness); False before :meth:`open`."""
        if self._client is None:
            return False
        reply = await self._client.admin.command("ping")
        return bool(reply.get("ok"))

    def _not_open(self) -> RuntimeError:
        return RuntimeError(f"MongoDB store {self.database_name} is not open")

    @property
    def events(self) -> MongoEventLog:
        if self._events is None:
            raise self._not_open()
        return self._events
