"""Ingest's publisher: JetStream with ``Nats-Msg-Id`` plus a key-value record of accepted ids.

JetStream's duplicate window (two minutes) only catches quick redeliveries; the key-value bucket
remembers every accepted id for good, across ingest restarts and replicas. An id is recorded only
after its publish was acknowledged, so a crash in between can at worst publish it again inside the
window, where JetStream itself drops the copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from majorops.shared import subjects
from majorops.shared.events import CloudEvent
from majorops.shared.jetstream import ensure_key_value, publish_acked_batch


def seen_key(event_id: str) -> str:
    """Key-value keys allow a narrow alphabet; event ids are free text up to 128 characters."""
    return hashlib.sha256(event_id.encode()).hexdigest()


class JetStreamEventPublisher:
    def __init__(self, js: JetStreamContext, seen: KeyValue) -> None:
        self.js = js
        self.seen = seen

    @classmethod
    async def open(cls, js: JetStreamContext) -> JetStreamEventPublisher:
        seen = await ensure_key_value(js, subjects.INGEST_SEEN_BUCKET, "Event ids ingest accepted")
        return cls(js, seen)

    async def publish_new(self, events: Sequence[CloudEvent]) -> list[bool]:
        """Check the ids, pipeline the publishes (in order), then record the acknowledged ids."""
        keys = [seen_key(event.id) for event in events]
        lookups = await asyncio.gather(*(self.seen.get(key) for key in keys), return_exceptions=True)
        for lookup in lookups:
            if isinstance(lookup, BaseException) and not isinstance(lookup, KeyNotFoundError):
                raise lookup
        fresh = [i for i, lookup in enumerate(lookups) if isinstance(lookup, KeyNotFoundError)]
        acks = await publish_acked_batch(
            self.js,
            [
                (
                    subjects.event_subject(events[i].incident_id, events[i].type),
                    json.dumps(events[i].to_wire(), ensure_ascii=False, separators=(",", ":")).encode(),
                    events[i].id,
                )
                for i in fresh
            ],
        )
        await asyncio.gather(
            *(self.seen.put(keys[i], str(ack.seq).encode()) for i, ack in zip(fresh, acks, strict=True))
        )
        new = [False] * len(events)
        for i, ack in zip(fresh, acks, strict=True):
            new[i] = not ack.duplicate
        return new
