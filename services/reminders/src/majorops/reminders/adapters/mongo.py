"""Reminders' production store: its own MongoDB database, ``<mongodb_database>_reminders``.

Each write touches one document (or inserts documents keyed by a natural ``_id``), so it is atomic
without transactions: ``obligations`` holds one document per incident (its obligations, its
``next_fire_at`` and the ``version`` optimistic concurrency checks), ``outbox`` one per notice id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.write_concern import WriteConcern

from majorops.reminders.plan import Notice, NoticeCategory
from majorops.reminders.ports import DueIncident, StoredPlan
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.storage.eventlog import sortable_utc
from majorops.shared.storage.mongo import MongoDocument, MongoEventLog, mongo_client
from majorops.shared.storage.mongo_store import MongoIncidentStore

_DUPLICATE_KEY = 11000


def _mark(incident_id: str, at: datetime) -> tuple[MongoDocument, MongoDocument]:
    """Filter and update that bump the incident's version and make it due at ``at`` (or earlier).

    ``$min`` sets a missing field and keeps the earlier of two dates; "nothing to fire" is a missing
    ``next_fire_at`` (not null, which $min would keep: null sorts before every date).
    """
    return (
        {"_id": incident_id},
        {
            "$inc": {"version": 1},
            "$min": {"next_fire_at": _fire_time(at)},
            "$setOnInsert": {"obligations": [], "pending": 0},
        },
    )


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _fire_time(moment: datetime) -> datetime:
    """BSON dates are milliseconds: a fire time is rounded *up*, so a level is due when woken for."""
    utc = moment.astimezone(UTC)
    extra = utc.microsecond % 1000
    return utc + timedelta(microseconds=1000 - extra) if extra else utc


class MongoRemindersStore(MongoIncidentStore):
    """:class:`~majorops.reminders.ports.RemindersStore` on MongoDB; the client is created in :meth:`open`."""

    def __init__(self, url: str, database: str) -> None:
        super().__init__(url, database)
        self._collections: dict[str, AsyncCollection[MongoDocument]] = {}

    async def open(self) -> None:
        client = mongo_client(self.url, "majorops-reminders")
        db = client.get_database(self.database_name)
        events = MongoEventLog(db)
        majority = WriteConcern(w="majority")
        collections = {
            name: db.get_collection(name, write_concern=majority)
            for name in ("decisions", "obligations", "outbox", "webhook_outcomes", "webhook_levels")
        }
        try:
            # Creating the indexes also proves the server answers, so a bad URL fails at start-up.
            await events.create_indexes()
            # A plain index: range queries and the sort on next_fire_at use it (a partial one would
            # need the query to repeat its filter); documents without the field cost nothing to scan.
            await collections["obligations"].create_index(
                [("next_fire_at", ASCENDING)], name="obligations_by_next_fire"
            )
            await collections["outbox"].create_index([("incident_id", ASCENDING)], name="outbox_by_incident")
            await collections["outbox"].create_index(
                [("claimed_at", ASCENDING)],
                name="outbox_pending",
                partialFilterExpression={"status": "pending"},
            )
        except BaseException:
            await client.close()
            raise
        self._client = client
        self._events = events
        self._collections = collections

    def _forget_collections(self) -> None:
        self._collections = {}

    def _collection(self, name: str) -> AsyncCollection[MongoDocument]:
        if name not in self._collections:
            raise self._not_open()
        return self._collections[name]

    @property
    def decisions(self) -> AsyncCollection[MongoDocument]:
        return self._collection("decisions")

    # --- the record -------------------------------------------------------------------------------

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

    # --- the schedule -----------------------------------------------------------------------------

    async def mark_changed(self, incident_id: str, at: datetime) -> None:
        await self._collection("obligations").update_one(*_mark(incident_id, at), upsert=True)

    async def mark_unplanned(self, settings_key: str, at: datetime) -> int:
        incidents = set(await self.events.collection.distinct("incident_id"))
        incidents.update(await self.decisions.distinct("_id"))
        planned = {
            doc["_id"]
            async for doc in self._collection("obligations").find(
                {"settings_key": settings_key}, projection={"_id": 1}
            )
        }
        stale = sorted(incidents - planned)
        if not stale:
            return 0
        await self._collection("obligations").bulk_write(
            [UpdateOne(*_mark(i, at), upsert=True) for i in stale], ordered=False
        )
        return len(stale)

    async def incidents_due(self, now: datetime, limit: int) -> list[DueIncident]:
        cursor = (
            self._collection("obligations")
            .find({"next_fire_at": {"$lte": _utc(now)}}, projection={"version": 1})
            .sort([("next_fire_at", ASCENDING)])
            .limit(limit)
        )
        return [DueIncident(doc["_id"], int(doc["version"])) async for doc in cursor]

    async def save_plans(self, plans: Sequence[StoredPlan]) -> set[str]:
        saved: set[str] = set()
        obligations = self._collection("obligations")
        for p in plans:
            fields: dict[str, Any] = {
                "obligations": json.loads(p.obligations_json),
                "pending": p.pending,
                "settings_key": p.settings_key,
                "planned_at": _utc(p.planned_at),
            }
            update: dict[str, Any] = {"$set": fields}
            if p.next_fire_at is None:
                update["$unset"] = {"next_fire_at": ""}
            else:
                fields["next_fire_at"] = _fire_time(p.next_fire_at)
            # Optimistic concurrency, as in SQLite: stored only if the version did not move on.
            result = await obligations.update_one({"_id": p.incident_id, "version": p.version}, update)
            if result.matched_count == 1:
                saved.add(p.incident_id)
        return saved

    async def postpone(self, incident_id: str, version: int, until: datetime) -> None:
        await self._collection("obligations").update_one(
            {"_id": incident_id, "version": version}, {"$set": {"next_fire_at": _fire_time(until)}}
        )

    async def earliest_fire_at(self) -> datetime | None:
        doc = await self._collection("obligations").find_one(
            {"next_fire_at": {"$type": "date"}},
            projection={"next_fire_at": 1},
            sort=[("next_fire_at", ASCENDING)],
        )
        return None if doc is None else _utc(doc["next_fire_at"])

    async def pending_obligations(self) -> int:
        cursor = await self._collection("obligations").aggregate(
            [{"$group": {"_id": None, "pending": {"$sum": "$pending"}}}]
        )
        async for doc in cursor:
            return int(doc["pending"])
        return 0

    # --- the outbox -------------------------------------------------------------------------------

    async def claim_notices(
        self, notices: Sequence[Notice], claimed_at: datetime, claimed_by: str
    ) -> set[str]:
        if not notices:
            return set()
        docs = [
            {
                "_id": n.notice_id,
                "incident_id": n.incident_id,
                "category": n.category.value,
                "subject": n.subject,
                "payload": n.payload,
                # Text, not a BSON date: microseconds survive, as in SQLite.
                "due_at": sortable_utc(n.due_at),
                "status": "pending",
                "claimed_at": _utc(claimed_at),
                "claimed_by": claimed_by,
            }
            for n in notices
        ]
        lost: set[int] = set()
        try:
            # Unordered: every insert is tried; the unique _id decides between replicas.
            await self._collection("outbox").insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != _DUPLICATE_KEY:
                    raise
                lost.add(int(error["index"]))
        return {n.notice_id for i, n in enumerate(notices) if i not in lost}

    async def mark_published(self, notice_ids: Sequence[str], at: datetime) -> None:
        if notice_ids:
            await self._collection("outbox").update_many(
                {"_id": {"$in": list(notice_ids)}, "status": "pending"},
                {"$set": {"status": "published", "published_at": _utc(at)}},
            )

    async def pending_notices(self, claimed_before: datetime, limit: int) -> list[Notice]:
        cursor = (
            self._collection("outbox")
            .find({"status": "pending", "claimed_at": {"$lt": _utc(claimed_before)}})
            .sort([("claimed_at", ASCENDING)])
            .limit(limit)
        )
        return [
            Notice(
                notice_id=doc["_id"],
                incident_id=doc["incident_id"],
                category=NoticeCategory(doc["category"]),
                subject=doc["subject"],
                payload=bytes(doc["payload"]),
                due_at=datetime.strptime(doc["due_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
            )
            async for doc in cursor
        ]

    async def sent_notice_ids(self, incident_id: str) -> set[str]:
        cursor = self._collection("outbox").find({"incident_id": incident_id}, projection={"_id": 1})
        return {doc["_id"] async for doc in cursor}

    # --- webhook outcomes -------------------------------------------------------------------------

    async def webhook_outcome(self, escalation_id: str, target_key: str) -> str | None:
        doc = await self._collection("webhook_outcomes").find_one({"_id": f"{escalation_id}|{target_key}"})
        return None if doc is None else str(doc["outcome"])

    async def save_webhook_outcome(
        self, escalation_id: str, target_key: str, outcome: str, at: datetime
    ) -> None:
        await self._collection("webhook_outcomes").update_one(
            {"_id": f"{escalation_id}|{target_key}"},
            {"$setOnInsert": {"outcome": outcome, "settled_at": _utc(at)}},
            upsert=True,
        )

    async def claim_webhook_level(
        self, obligation_key: str, target_key: str, level: int, at: datetime
    ) -> bool:
        # The filter matches only a lower or equal level; with a higher one stored, the upsert's insert
        # collides with the existing _id: this level lost.
        try:
            await self._collection("webhook_levels").update_one(
                {"_id": f"{obligation_key}|{target_key}", "level": {"$lte": level}},
                {"$set": {"level": level, "claimed_at": _utc(at)}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    async def webhook_level(self, obligation_key: str, target_key: str) -> int | None:
        doc = await self._collection("webhook_levels").find_one({"_id": f"{obligation_key}|{target_key}"})
        return None if doc is None else int(doc["level"])
