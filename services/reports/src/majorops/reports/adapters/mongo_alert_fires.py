"""Alert fires across incidents in MongoDB: what the follow-up of an incident's action items reads
(:mod:`majorops.reports.domain.follow_up`), as part of :class:`~.mongo.MongoReviewStore`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from majorops.reports.domain.follow_up import EFFECTIVENESS_WINDOW, AlertFire, AlertKey
from majorops.reports.domain.timeline import ReviewStatus
from majorops.shared.storage.eventlog import sortable_utc
from majorops.shared.storage.mongo import MongoDocument


class MongoAlertFires:
    """The alert-fire part of the review store: one document per fire (``_id`` = the event id)."""

    alert_fires_collection: AsyncCollection[MongoDocument]
    action_items: AsyncCollection[MongoDocument]
    reviews: AsyncCollection[MongoDocument]

    async def create_alert_fire_indexes(self) -> None:
        """The index the follow-up's lookups of one alert's fires use."""
        await self.alert_fires_collection.create_index(
            [("alert_name", ASCENDING), ("service", ASCENDING), ("fired_at", ASCENDING)],
            name="alert_fires_by_alert",
        )

    async def record_alert_fire(self, fire: AlertFire) -> bool:
        try:
            result = await self.alert_fires_collection.update_one(
                {"_id": fire.event_id},
                {
                    "$setOnInsert": {
                        "incident_id": fire.incident_id,
                        "alert_name": fire.alert_name,
                        "service": fire.service,
                        "fired_at": sortable_utc(fire.fired_at),
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return result.upserted_id is not None

    async def alert_fires(
        self, keys: Sequence[AlertKey], after: datetime, until: datetime
    ) -> list[AlertFire]:
        if not keys:
            return []
        cursor = self.alert_fires_collection.find(
            {
                "$or": [{"alert_name": key.alert_name, "service": key.service} for key in keys],
                "fired_at": {"$gt": sortable_utc(after), "$lte": sortable_utc(until)},
            }
        ).sort([("fired_at", ASCENDING), ("_id", ASCENDING)])
        return [
            AlertFire(
                event_id=doc["_id"],
                incident_id=doc["incident_id"],
                alert_name=doc["alert_name"],
                service=doc.get("service"),
                fired_at=doc["fired_at"],
            )
            async for doc in cursor
        ]

    async def incidents_to_recheck(self, key: AlertKey, fired_at: datetime) -> list[str]:
        fired_the_alert = await self.alert_fires_collection.distinct(
            "incident_id", {"alert_name": key.alert_name, "service": key.service}
        )
        if not fired_the_alert:
            return []
        completed_in_window = await self.action_items.distinct(
            "incident_id",
            {
                "incident_id": {"$in": fired_the_alert},
                "completed_at": {
                    "$gte": sortable_utc(fired_at - EFFECTIVENESS_WINDOW),
                    "$lt": sortable_utc(fired_at),
                },
            },
        )
        if not completed_in_window:
            return []
        published = await self.reviews.distinct(
            "_id", {"_id": {"$in": completed_in_window}, "status": ReviewStatus.PUBLISHED.value}
        )
        return sorted(str(incident_id) for incident_id in published)
