"""Ingest's publisher: JetStream with ``Nats-Msg-Id`` plus a key-value record of accepted ids.

JetStream's duplicate window (two minutes) only catches quick redeliveries; the key-value bucket
remembers every accepted id for good, across ingest restarts and replicas. An id is recorded only
after its publish was acknowledged, so a crash in between can at worst publish it again inside the
window, where JetStream itself drops the copy.
"""

from __future__ import annotations

import hashlib
import json

from majorops.shared import subjects
from majorops.shared.events import CloudEvent
from majorops.shared.jetstream import ensure_key_value, publish_acked
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue


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

    async def publish_once(self, event: CloudEvent) -> bool:
        key = seen_key(event.id)
        try:
            await self.seen.get(key)
            return False
        except KeyNotFoundError:
            pass
        payload = json.dumps(event.to_wire(), ensure_ascii=False, separators=(",", ":")).encode()
        ack = await publish_acked(
            self.js, subjects.event_subject(event.incident_id, event.type), payload, msg_id=event.id
        )
        await self.seen.put(key, str(ack.seq).encode())
        return not ack.duplicate
