"""The production store: MongoDB (PyMongo's async API), majority writes, idempotent upserts.

Events are keyed by event id, escalations by escalation id, decisions by (incident, revision),
alert fires by event id: a redelivered message upserts the document it already wrote, and a
unique index makes two replicas racing on the same key end with one document.

Reviews are documents shaped for reading: one per incident (``_id`` = incident id) holding the
JSON served and the fields lists filter on, plus one document per action item (unique on
incident and item id) for the cross-incident queries. A review is written only by an assembly
of a newer generation than the stored one (a conditional upsert whose duplicate-key error means
"a newer one won"), and its action items carry that generation too.

Alert fires: :mod:`.mongo_alert_fires`; documents as records: :mod:`.mongo_documents`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.write_concern import WriteConcern

from majorops.reports.adapters.mongo_alert_fires import MongoAlertFires
from majorops.reports.adapters.mongo_documents import as_time, item_key, item_of, listing_of
from majorops.reports.domain.document import Narrative
from majorops.reports.domain.listing import ActionItemRecord, ReviewListing
from majorops.reports.ports import ActionItemQuery, ReviewQuery, StoredNarrative, StoredReview
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation
from majorops.shared.storage.eventlog import sortable_utc
from majorops.shared.storage.incident_events import KeepsIncidentEvents
from majorops.shared.storage.mongo import MongoDocument, MongoEventLog, mongo_client

APP_NAME = "majorops-reports"
DUPLICATE_KEY = 11000


class MongoReviewStore(KeepsIncidentEvents, MongoAlertFires):
    """:class:`~majorops.reports.ports.ReviewStore` in reports' own MongoDB database."""

    def __init__(self, client: AsyncMongoClient[MongoDocument], db: AsyncDatabase[MongoDocument]) -> None:
        self.client = client
        self.events = MongoEventLog(db)
        majority = WriteConcern(w="majority")

        def collection(name: str) -> AsyncCollection[MongoDocument]:
            return db.get_collection(name, write_concern=majority)

        self.decisions = collection("decisions")
        self.escalations = collection("escalations")
        self.narratives = collection("narratives")
        self.reviews = collection("reviews")
        self.action_items = collection("action_items")
        self.alert_fires_collection = collection("alert_fires")

    @classmethod
    async def open(cls, url: str, database: str) -> MongoReviewStore:
        """Connect (lazily: no round trip until the first operation) and create the indexes."""
        client = mongo_client(url, APP_NAME)
        store = cls(client, client.get_database(database))
        try:
            await store.create_indexes()
            await store.refill_listings()
        except BaseException:
            await client.close()
            raise
        return store

    async def refill_listings(self) -> None:
        """Reviews stored before the list showed escalation levels are marked changed, so the
        assembler fills ``escalation_level`` and the rest (as the SQLite store does)."""
        await self.reviews.update_many(
            {"etag": {"$ne": None}, "escalation_level": {"$exists": False}},
            {"$inc": {"generation": 1}, "$set": {"stale": True}},
        )

    async def create_indexes(self) -> None:
        await self.events.create_indexes()
        await self.decisions.create_index(
            [("incident_id", ASCENDING), ("revision", DESCENDING)], name="decision_revision", unique=True
        )
        await self.escalations.create_index(
            [("incident_id", ASCENDING), ("fired_at", ASCENDING), ("_id", ASCENDING)],
            name="escalations_by_incident",
        )
        # The list: equality filters first, then the incident id it pages by.
        await self.reviews.create_index(
            [("status", ASCENDING), ("requirement", ASCENDING), ("_id", ASCENDING)], name="reviews_by_status"
        )
        await self.reviews.create_index(
            [("requirement", ASCENDING), ("_id", ASCENDING)], name="reviews_by_requirement"
        )
        await self.reviews.create_index([("next_deadline", ASCENDING)], name="reviews_by_next_deadline")
        await self.reviews.create_index([("repeat_of", ASCENDING)], name="reviews_by_earlier")
        await self.reviews.create_index(
            [("stale", ASCENDING)], name="reviews_stale", partialFilterExpression={"stale": True}
        )
        await self.action_items.create_index(
            [("incident_id", ASCENDING), ("item_id", ASCENDING)], name="action_item_id", unique=True
        )
        await self.action_items.create_index(
            [("status", ASCENDING), ("due_at", ASCENDING)], name="action_items_by_status_due"
        )
        await self.action_items.create_index(
            [("incident_id", ASCENDING), ("completed_at", ASCENDING)], name="action_items_completed"
        )
        await self.create_alert_fire_indexes()

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> bool:
        reply = await self.client.admin.command("ping")
        return bool(reply.get("ok"))

    # --- the record ---------------------------------------------------------------------------

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

    # --- the narrative ------------------------------------------------------------------------

    async def narrative_for(self, incident_id: str) -> StoredNarrative:
        doc = await self.narratives.find_one({"_id": incident_id})
        if doc is None:
            return StoredNarrative()
        return StoredNarrative(Narrative.model_validate(doc["narrative"]), int(doc["version"]))

    async def save_narrative(
        self, incident_id: str, narrative: Narrative, expected_version: int
    ) -> int | None:
        body = narrative.model_dump(mode="json")
        if expected_version == 0:
            try:
                await self.narratives.insert_one({"_id": incident_id, "version": 1, "narrative": body})
            except DuplicateKeyError:
                return None
            return 1
        result = await self.narratives.update_one(
            {"_id": incident_id, "version": expected_version},
            {"$set": {"narrative": body, "version": expected_version + 1}},
        )
        return expected_version + 1 if result.modified_count == 1 else None

    # --- materialised reviews -----------------------------------------------------------------

    async def mark_changed(self, incident_id: str) -> int:
        for _ in range(2):
            try:
                doc = await self.reviews.find_one_and_update(
                    {"_id": incident_id},
                    {"$inc": {"generation": 1}, "$set": {"stale": True}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                    projection={"generation": 1},
                )
            except DuplicateKeyError:  # two first marks raced on the upsert: the retry increments
                continue
            assert doc is not None
            return int(doc["generation"])
        raise RuntimeError(f"could not mark review {incident_id} changed")

    async def stale_reviews(self, limit: int) -> list[str]:
        cursor = self.reviews.find({"stale": True}, projection={"_id": 1}).limit(limit)
        return [str(doc["_id"]) async for doc in cursor]

    async def save_review(
        self, review: StoredReview, action_items: Sequence[ActionItemRecord], generation: int
    ) -> bool:
        listing = review.listing
        incident_id = listing.incident_id
        try:
            result = await self.reviews.update_one(
                {
                    "_id": incident_id,
                    "$or": [
                        {"assembled_generation": {"$lt": generation}},
                        {"assembled_generation": {"$exists": False}},
                    ],
                },
                {
                    "$set": {
                        "assembled_generation": generation,
                        "etag": review.etag,
                        "narrative_version": review.narrative_version,
                        "status": listing.status.value,
                        "requirement": listing.requirement.value if listing.requirement else None,
                        "severity": listing.severity.value if listing.severity else None,
                        "title": listing.title,
                        "next_deadline": as_time(listing.next_deadline),
                        "next_deadline_name": listing.next_deadline_name,
                        "escalation_level": listing.escalation_level,
                        "escalations_fired": listing.escalations_fired,
                        "updated_at": as_time(listing.updated_at),
                        "repeat_of": list(review.repeat_of),
                        "document": review.document,
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:  # the review exists with a newer assembly: the upsert lost
            return False
        if result.matched_count == 0 and result.upserted_id is None:
            return False
        await self._save_action_items(incident_id, action_items, generation)
        # Fresh unless another change was marked meanwhile.
        await self.reviews.update_one(
            {"_id": incident_id, "generation": generation}, {"$set": {"stale": False}}
        )
        return True

    async def _save_action_items(
        self, incident_id: str, action_items: Sequence[ActionItemRecord], generation: int
    ) -> None:
        writes = [
            UpdateOne(
                {"_id": item_key(incident_id, item.item_id), "generation": {"$lt": generation}},
                {
                    "$set": {
                        "incident_id": incident_id,
                        "item_id": item.item_id,
                        "title": item.title,
                        "owner": item.owner,
                        "due": item.due,
                        "due_at": as_time(item.due_at),
                        "status": item.status,
                        "completed_at": as_time(item.completed_at),
                        "generation": generation,
                    }
                },
                upsert=True,
            )
            for item in action_items
        ]
        if writes:
            try:
                await self.action_items.bulk_write(writes, ordered=False)
            except BulkWriteError as exc:
                # Duplicate keys: a newer assembly already wrote those items. Anything else is real.
                if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
                    raise
        # Items this assembly no longer holds (written by older ones) go.
        await self.action_items.delete_many(
            {
                "incident_id": incident_id,
                "generation": {"$lt": generation},
                "item_id": {"$nin": [item.item_id for item in action_items]},
            }
        )

    async def review(self, incident_id: str) -> StoredReview | None:
        doc = await self.reviews.find_one({"_id": incident_id, "etag": {"$exists": True}})
        if doc is None:
            return None
        return StoredReview(
            listing=listing_of(doc),
            document=doc["document"],
            etag=doc["etag"],
            narrative_version=int(doc.get("narrative_version", 0)),
            repeat_of=tuple(doc.get("repeat_of", [])),
            stale=bool(doc.get("stale", False)),
        )

    async def list_reviews(self, query: ReviewQuery) -> list[ReviewListing]:
        conditions: dict[str, Any] = {"etag": {"$exists": True}}
        if query.status is not None:
            conditions["status"] = query.status.value
        if query.requirement is not None:
            conditions["requirement"] = query.requirement.value
        now = sortable_utc(query.now)
        if query.overdue is True:
            conditions["next_deadline"] = {"$ne": None, "$lte": now}
        elif query.overdue is False:
            conditions["$or"] = [{"next_deadline": None}, {"next_deadline": {"$gt": now}}]
        if query.after is not None:
            conditions["_id"] = {"$gt": query.after}
        cursor = (
            self.reviews.find(conditions, projection={"document": 0})
            .sort([("_id", ASCENDING)])
            .limit(query.limit)
        )
        return [listing_of(doc) async for doc in cursor]

    async def action_items_of(self, incident_id: str) -> list[ActionItemRecord]:
        cursor = self.action_items.find({"incident_id": incident_id}).sort([("item_id", ASCENDING)])
        return [item_of(doc) async for doc in cursor]

    async def list_action_items(self, query: ActionItemQuery) -> list[ActionItemRecord]:
        conditions: list[dict[str, Any]] = []
        if query.open is not None:
            conditions.append({"status": "open" if query.open else "completed"})
        now = sortable_utc(query.now)
        overdue = {"status": "open", "due_at": {"$ne": None, "$lte": now}}
        if query.overdue is True:
            conditions.append(overdue)
        elif query.overdue is False:
            conditions.append({"$nor": [overdue]})
        if query.after is not None:
            incident_id, item_id = query.after
            conditions.append(
                {
                    "$or": [
                        {"incident_id": {"$gt": incident_id}},
                        {"incident_id": incident_id, "item_id": {"$gt": item_id}},
                    ]
                }
            )
        filter_ = {"$and": conditions} if conditions else {}
        cursor = (
            self.action_items.find(filter_)
            .sort([("incident_id", ASCENDING), ("item_id", ASCENDING)])
            .limit(query.limit)
        )
        return [item_of(doc) async for doc in cursor]

    async def incidents_repeating(self, incident_id: str) -> list[str]:
        cursor = self.reviews.find({"repeat_of": incident_id}, projection={"_id": 1}).sort(
            [("_id", ASCENDING)]
        )
        return [str(doc["_id"]) async for doc in cursor]
