"""Ingest's publisher: JetStream with ``Nats-Msg-Id`` plus a key-value record of accepted ids.

JetStream's duplicate window (two minutes) only catches quick redeliveries; the key-value bucket
remembers every accepted id for good, across ingest restarts and replicas. An id is recorded only
after its publish was acknowledged, so a crash in between can at worst publish it again inside the
window, where JetStream itself drops the copy.

The value recorded for an id is the digest of the event's content
(:func:`~majorops.ingest.domain.batch.content_digest`), so that the same id sent again with other
content is told apart from a duplicate. Ids recorded before digests were (the value is a stream
sequence) count as the same content.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from majorops.ingest.ports import IdsTaken
from majorops.shared import subjects
from majorops.shared.events import CloudEvent
from majorops.shared.jetstream import INGEST_SEEN_DESCRIPTION, ensure_key_value, publish_acked_batch

_DIGEST = re.compile(rb"[0-9a-f]{64}")


def seen_key(event_id: str) -> str:
    """Key-value keys allow a narrow alphabet; event ids are free text up to 128 characters."""
    return hashlib.sha256(event_id.encode()).hexdigest()


def recorded_digest(value: bytes | None) -> str | None:
    """The content digest recorded for an id, or None for an id recorded before digests were (its
    value is the stream sequence): that one counts as the same content."""
    return value.decode() if value is not None and _DIGEST.fullmatch(value) else None


class JetStreamEventPublisher:
    def __init__(self, js: JetStreamContext, seen: KeyValue) -> None:
        self.js = js
        self.seen = seen

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> JetStreamEventPublisher:
        """Open the bucket of accepted ids (created with ``replicas`` copies where nobody provisioned it)."""
        seen = await ensure_key_value(js, subjects.INGEST_SEEN_BUCKET, INGEST_SEEN_DESCRIPTION, replicas)
        return cls(js, seen)

    async def publish_new(
        self, events: Sequence[CloudEvent], digests: Sequence[str], *, refuse_conflicts: bool = True
    ) -> list[bool]:
        """Check the ids (and, with ``refuse_conflicts``, that none was recorded with another
        digest: :class:`IdsTaken` before anything is published), pipeline the publishes (in
        order), then record the acknowledged ids with their digests."""
        keys = [seen_key(event.id) for event in events]
        lookups = await asyncio.gather(*(self.seen.get(key) for key in keys), return_exceptions=True)
        taken: list[int] = []
        for i, lookup in enumerate(lookups):
            if isinstance(lookup, BaseException):
                if not isinstance(lookup, KeyNotFoundError):
                    raise lookup
                continue
            recorded = recorded_digest(lookup.value)
            if refuse_conflicts and recorded is not None and recorded != digests[i]:
                taken.append(i)
        if taken:
            raise IdsTaken(taken)
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
        await asyncio.gather(*(self.seen.put(keys[i], digests[i].encode()) for i in fresh))
        new = [False] * len(events)
        for i, ack in zip(fresh, acks, strict=True):
            new[i] = not ack.duplicate
        return new
