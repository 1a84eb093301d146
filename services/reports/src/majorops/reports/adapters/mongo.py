"""The production store: MongoDB (PyMongo's async API), majority writes, idempotent upserts.

Events are keyed by event id, escalations by escalation id and decisions by (incident, revision):
a redelivered message upserts the document it already wrote, and a unique index makes two
replicas racing on the same key end with one document.
"""

from __future__ import annotations

from typing import Any

from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.storage.eventlog import StoredEvent, sortable_utc
from majorops.shared.storage.mongo import MongoDocument, MongoEventLog, mongo_client
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.write_concern import WriteConcern

APP_NAME = "majorops-reports"


class MongoReviewStore:
    """:class:`~majorops.reports.ports.ReviewStore` in reports' own MongoDB database."""

    def __init__(self, client: AsyncMongoClient[MongoDocument], db: AsyncDatabase[MongoDocument]) -> None:
        self.client = client
        self.events = MongoEventLog(db)
        majority = WriteConcern(w="majority")
        self.decisions: AsyncCollection[MongoDocument] = db.get_collection(
            "decisions", write_concern=majority
        )
        self.escalations: AsyncCollection[MongoDocument] = db.get_collection(
            "escalations", write_concern=majority
        )

    @classmethod
    async def open(cls, url: str, database: str) -> MongoReviewStore:
        """Connect (lazily: no round trip until the first operation) and create the indexes."""
        client = mongo_client(url, APP_NAME)
        store = cls(client, client.get_database(database))
        try:
            await store.create_indexes()
        except BaseException:
            await client.close()
            raise
        return store

    async def create_indexes(self) -> None:
        await self.events.create_indexes()
        await self.decisions.create_index(
            [("incident_id", ASCENDING), ("revision", DESCENDING)], name="decision_revision", unique=True
        )
        await self.escalations.create_index(
            [("incident_id", ASCENDING), ("fired_at", ASCENDING), ("_id", ASCENDING)],
            name="escalations_by_incident",
        )

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> bool:
        reply = await self.client.admin.command("ping")
        return bool(reply.get("ok"))

    async def append_event(self, event: StoredEvent) -> bool:
        return await self.events.append(event)

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        return await self.events.events_for(incident_id)

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        key = {"incident_id": decision.incident_id, "revision": decision.revision}
        try:
            result = await self.decisions.update_one(
                # The filter's fields become the new document's; only the body is set on insert.
                key,
                {"$setOnInsert": {"decision": decision.model_dump(mode="json")}},
                upsert=True,
            )
        except DuplicateKeyError:  # another replica upserted the same revision meanwhile
            return False
        if result.upserted_id is None:
            return False
        higher = await self.decisions.find_one(
            {"incident_id": decision.incident_id, "revision": {"$gt": decision.revision}},
            projection={"_id": 1},
        )
        return higher is None

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        doc = await self.decisions.find_one({"incident_id": incident_id}, sort=[("revision", DESCENDING)])
        return AfterActionDecision.model_validate(doc["decision"]) if doc is not None else None

    async def save_escalation(self, escalation: Escalation) -> bool:
        body: dict[str, Any] = escalation.model_dump(mode="json")
        try:
            result = await self.escalations.update_one(
                {"_id": escalation.escalation_id},
                {
                    "$setOnInsert": {
                        "incident_id": escalation.incident_id,
                        "fired_at": sortable_utc(escalation.fired_at),
                        "escalation": body,
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return result.upserted_id is not None

    async def escalations_for(self, incident_id: str) -> list[Escalation]:
        cursor = self.escalations.find({"incident_id": incident_id}).sort([("fired_at", 1), ("_id", 1)])
        return [Escalation.model_validate(doc["escalation"]) async for doc in cursor]

    async def knows_incident(self, incident_id: str) -> bool:
        query = {"incident_id": incident_id}
        for collection in (self.events.collection, self.decisions, self.escalations):
            if await collection.find_one(query, projection={"_id": 1}) is not None:
                return True
        return False
