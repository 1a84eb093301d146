"""Reminders' production store: its own MongoDB database, ``<mongodb_database>_reminders``."""

from __future__ import annotations

from majorops.shared.decisions import AfterActionDecision
from majorops.shared.storage.eventlog import StoredEvent
from majorops.shared.storage.mongo import MongoDocument, MongoEventLog, mongo_client
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError
from pymongo.write_concern import WriteConcern


class MongoRemindersStore:
    """:class:`~majorops.reminders.ports.RemindersStore` on MongoDB; the client is created in :meth:`open`.

    Collections ``events`` (by event id) and ``decisions`` (``_id`` = incident id, with ``revision``).
    """

    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database_name = database
        self._client: AsyncMongoClient[MongoDocument] | None = None
        self._events: MongoEventLog | None = None
        self._decisions: AsyncCollection[MongoDocument] | None = None

    async def open(self) -> None:
        client = mongo_client(self.url, "majorops-reminders")
        db = client.get_database(self.database_name)
        events = MongoEventLog(db)
        try:
            # Creating the indexes also proves the server answers, so a bad URL fails at start-up.
            await events.create_indexes()
        except BaseException:
            await client.close()
            raise
        self._client = client
        self._events = events
        self._decisions = db.get_collection("decisions", write_concern=WriteConcern(w="majority"))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._events = None
            self._decisions = None

    @property
    def events(self) -> MongoEventLog:
        if self._events is None:
            raise RuntimeError(f"MongoDB store {self.database_name} is not open")
        return self._events

    @property
    def decisions(self) -> AsyncCollection[MongoDocument]:
        if self._decisions is None:
            raise RuntimeError(f"MongoDB store {self.database_name} is not open")
        return self._decisions

    async def append_event(self, event: StoredEvent) -> bool:
        return await self.events.append(event)

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        return await self.events.events_for(incident_id)

    async def incident_ids(self) -> list[str]:
        return await self.events.incident_ids()

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        try:
            # Matches only an older revision; when none exists the upsert inserts, and when a newer
            # or equal one exists the insert hits the unique _id: that error means "keep the stored".
            result = await self.decisions.update_one(
                {"_id": decision.incident_id, "revision": {"$lt": decision.revision}},
                {"$set": {"revision": decision.revision, "decision": decision.model_dump(mode="json")}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return result.upserted_id is not None or result.modified_count == 1

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        doc = await self.decisions.find_one({"_id": incident_id})
        if doc is None:
            return None
        return AfterActionDecision.model_validate(doc["decision"])
