"""Policy's production store: its own MongoDB database, ``<mongodb_database>_policy``.

Collections: ``events`` (the shared event log), ``decisions`` (one document per incident: the
latest revision, its content and whether it was published; the compare-and-set filters on
``revision``) and ``root_causes`` (the fingerprint index, ``_id`` = incident id).

Unlike SQLite, MongoDB cannot count an incident's events in the same write as the event's insert
without a multi-document transaction, so the event count comes from ``count_documents`` over the
``events_by_incident`` index, and the compare-and-set checks the revision only. That is still
safe: a replica that decided from a view missing an event either loses the compare-and-set, or
decides before that event's own handling, which re-derives the incident afterwards. A cached view
that is behind is refreshed from the whole history (there is no insertion order to resume from).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError
from pymongo.write_concern import WriteConcern

from majorops.policy.domain.repeats import RootCauseSighting
from majorops.policy.ports import IncidentState, IndexedRootCause, StoredDecision
from majorops.shared.decisions import DecisionContent
from majorops.shared.storage.eventlog import StoredEvent, sortable_utc
from majorops.shared.storage.mongo import MongoDocument, MongoEventLog, mongo_client
from majorops.shared.storage.mongo_store import MongoIncidentStore


class MongoPolicyStore(MongoIncidentStore):
    """:class:`~majorops.policy.ports.PolicyStore` on MongoDB; the client is created in :meth:`open`."""

    def __init__(self, url: str, database: str) -> None:
        super().__init__(url, database)
        self._decisions: AsyncCollection[MongoDocument] | None = None
        self._root_causes: AsyncCollection[MongoDocument] | None = None

    async def open(self) -> None:
        client = mongo_client(self.url, "majorops-policy")
        database = client.get_database(self.database_name)
        events = MongoEventLog(database)
        majority = WriteConcern(w="majority")
        decisions = database.get_collection("decisions", write_concern=majority)
        root_causes = database.get_collection("root_causes", write_concern=majority)
        try:
            # Creating the indexes also proves the server answers, so a bad URL fails at start-up.
            await events.create_indexes()
            await decisions.create_index(
                [("published", ASCENDING)],
                name="decisions_unpublished",
                partialFilterExpression={"published": False},
            )
            await root_causes.create_index([("fingerprint", ASCENDING)], name="root_causes_by_fingerprint")
        except BaseException:
            await client.close()
            raise
        self._client = client
        self._events = events
        self._decisions = decisions
        self._root_causes = root_causes

    def _forget_collections(self) -> None:
        self._decisions = None
        self._root_causes = None

    @property
    def decisions(self) -> AsyncCollection[MongoDocument]:
        if self._decisions is None:
            raise self._not_open()
        return self._decisions

    @property
    def root_causes(self) -> AsyncCollection[MongoDocument]:
        if self._root_causes is None:
            raise self._not_open()
        return self._root_causes

    async def events_stored_after(self, incident_id: str, position: int) -> tuple[list[StoredEvent], int]:
        # No insertion order to resume from: the whole history (folding skips what it has).
        events = await self.events.events_for(incident_id)
        return events, len(events)

    async def incident_state(self, incident_id: str) -> IncidentState:
        decision, count, root_cause = await asyncio.gather(
            self.decisions.find_one({"_id": incident_id}),
            self.events.collection.count_documents({"incident_id": incident_id}),
            self.root_causes.find_one({"_id": incident_id}),
        )
        return IncidentState(
            incident_id,
            int(count),
            None if decision is None else _stored_decision(decision),
            None if root_cause is None else _indexed(root_cause),
        )

    async def save_decision(
        self, incident_id: str, content: DecisionContent, expected_revision: int, event_count: int
    ) -> bool:
        fields = {
            "revision": expected_revision + 1,
            "content": content.model_dump_json(),
            "derived_from": event_count,
            "published": False,
        }
        if expected_revision == 0:
            try:
                await self.decisions.insert_one({"_id": incident_id, **fields})
            except DuplicateKeyError:
                return False
            return True
        result = await self.decisions.update_one(
            {"_id": incident_id, "revision": expected_revision}, {"$set": fields}
        )
        return result.matched_count == 1

    async def mark_published(self, incident_id: str, revision: int) -> None:
        await self.decisions.update_one(
            {"_id": incident_id, "revision": revision, "published": False}, {"$set": {"published": True}}
        )

    async def unpublished_decisions(self) -> list[StoredDecision]:
        cursor = self.decisions.find({"published": False}).sort("_id", ASCENDING)
        return [_stored_decision(doc) async for doc in cursor]

    async def index_root_cause(self, sighting: RootCauseSighting, event_count: int) -> bool:
        current = await self.root_causes.find_one({"_id": sighting.incident_id})
        fields: MongoDocument = {
            "fingerprint": sighting.fingerprint,
            # Text at microsecond precision: BSON dates keep milliseconds, and repeat detection
            # compares first sightings exactly.
            "identified_at": sortable_utc(sighting.identified_at),
            "derived_from": event_count,
        }
        if current is None:
            try:
                await self.root_causes.insert_one(
                    {"_id": sighting.incident_id, **fields, "previous_fingerprint": None}
                )
            except DuplicateKeyError:  # another replica indexed it meanwhile: compare with theirs
                return await self.index_root_cause(sighting, event_count)
            return True
        if int(current["derived_from"]) > event_count:
            return False
        previous = current.get("previous_fingerprint")
        if current["fingerprint"] != sighting.fingerprint:
            previous = current["fingerprint"]
        # Filtering on what was read makes this a compare-and-set: a concurrent writer makes it a no-op.
        result = await self.root_causes.update_one(
            {
                "_id": sighting.incident_id,
                "derived_from": current["derived_from"],
                "fingerprint": current["fingerprint"],
            },
            {"$set": {**fields, "previous_fingerprint": previous}},
        )
        if result.matched_count == 1:
            return True
        return await self.index_root_cause(sighting, event_count)

    async def root_causes_with(self, fingerprints: Collection[str]) -> list[RootCauseSighting]:
        wanted = sorted(set(fingerprints))
        if not wanted:
            return []
        return [_sighting(doc) async for doc in self.root_causes.find({"fingerprint": {"$in": wanted}})]


def _stored_decision(doc: MongoDocument) -> StoredDecision:
    return StoredDecision(
        str(doc["_id"]),
        int(doc["revision"]),
        DecisionContent.model_validate_json(doc["content"]),
        bool(doc["published"]),
    )


def _sighting(doc: MongoDocument) -> RootCauseSighting:
    return RootCauseSighting(
        str(doc["_id"]), str(doc["fingerprint"]), datetime.fromisoformat(doc["identified_at"])
    )


def _indexed(doc: MongoDocument) -> IndexedRootCause:
    return IndexedRootCause(_sighting(doc), doc.get("previous_fingerprint"))
