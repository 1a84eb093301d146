"""The production store: MongoDB through PyMongo's async API (``AsyncMongoClient``).

Motor reached end of life on 2026-05-14; PyMongo's async API is its official successor. Writes use
majority write concern; every write is an idempotent upsert keyed by a natural id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.write_concern import WriteConcern

from majorops.shared.storage.eventlog import StoredEvent

MongoDocument = dict[str, Any]


def mongo_client(url: str, app_name: str) -> AsyncMongoClient[MongoDocument]:
    """A client with majority writes, so an acknowledged write survives a primary failover."""
    return AsyncMongoClient(
        url, appname=app_name, w="majority", tz_aware=True, serverSelectionTimeoutMS=10_000
    )


class MongoEventLog:
    """:class:`~majorops.shared.storage.eventlog.EventLog` on MongoDB: ``_id`` is the event id."""

    def __init__(self, db: AsyncDatabase[MongoDocument]) -> None:
        self.collection = db.get_collection("events", write_concern=WriteConcern(w="majority"))

    async def create_indexes(self) -> None:
        await self.collection.create_index(
            [("incident_id", ASCENDING), ("time_utc", ASCENDING), ("arrival", ASCENDING)],
            name="events_by_incident",
        )

    async def append(self, event: StoredEvent) -> bool:
        result = await self.collection.update_one(
            {"_id": event.event_id},
            {
                "$setOnInsert": {
                    "incident_id": event.incident_id,
                    "type": event.type,
                    "time_utc": event.time_utc,
                    "arrival": event.arrival,
                    "envelope": event.envelope,
                }
            },
            upsert=True,
        )
        return result.upserted_id is not None

    async def append_many(self, events: Sequence[StoredEvent]) -> list[bool]:
        """Store a batch in one unordered bulk write; per event, whether it was new (first wins)."""
        if not events:
            return []
        first: dict[str, StoredEvent] = {}
        for event in events:
            first.setdefault(event.event_id, event)
        result = await self.collection.bulk_write(
            [
                UpdateOne(
                    {"_id": e.event_id},
                    {
                        "$setOnInsert": {
                            "incident_id": e.incident_id,
                            "type": e.type,
                            "time_utc": e.time_utc,
                            "arrival": e.arrival,
                            "envelope": e.envelope,
                        }
                    },
                    upsert=True,
                )
                for e in first.values()
            ],
            ordered=False,
        )
        inserted = {str(_id) for _id in (result.upserted_ids or {}).values()}
        new: list[bool] = []
        for event in events:
            new.append(event.event_id in inserted)
            inserted.discard(event.event_id)
        return new

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        cursor = self.collection.find({"incident_id": incident_id}).sort([("time_utc", 1), ("arrival", 1)])
        return [_doc_to_event(doc) async for doc in cursor]

    async def incident_ids(self) -> list[str]:
        return sorted(await self.collection.distinct("incident_id"))


def _doc_to_event(doc: MongoDocument) -> StoredEvent:
    return StoredEvent(
        event_id=doc["_id"],
        incident_id=doc["incident_id"],
        type=doc["type"],
        time_utc=doc["time_utc"],
        arrival=int(doc["arrival"]),
        envelope=doc["envelope"],
    )
