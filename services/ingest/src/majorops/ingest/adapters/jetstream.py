"""Ingest's publisher: an id is claimed in the key-value bucket of accepted ids, then published.

JetStream's duplicate window (two minutes) only catches quick redeliveries; the key-value bucket
``majorops_ingest_seen`` remembers every accepted id for good, across ingest restarts and replicas,
with the digest of its content (:mod:`majorops.ingest.adapters.seen_entries`).

One id, one content: before anything is published, each new id is *claimed* with its content's
digest by a KV ``create`` (a publish with ``Nats-Expected-Last-Subject-Sequence: 0``, refused when
the key exists). Of two concurrent requests with one id, one creates the claim; the other finds it,
and with other content is a ``409`` before it publishes anything. After the publish is acknowledged
the claim becomes the digest (compare-and-set on the claim's revision).

Crash windows. An ingest killed after claiming leaves the claim: the id is neither free nor known to
be published. The next request with that content takes the claim over (compare-and-set again), looks
for the id in the stream (the claim's subject, walked with direct gets: exact beyond the duplicate
window too), publishes it only when it is not there, and records the digest. So an event is never
published twice, nor is an id left a "duplicate" of an event that was never published. A request
with *other* content is a ``409`` against a claim as against a recorded digest — the claimant was
not answered ``202`` and retries with its content; where conflicts are not refused (ids ingest
derives itself) the first content that reaches the stream wins, and its entry says which.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from majorops.ingest.adapters.seen_entries import SeenEntry, claim_value, parse_entry, seen_key
from majorops.ingest.domain.batch import wire_digest
from majorops.ingest.ports import IdsTaken
from majorops.shared import subjects
from majorops.shared.events import CloudEvent
from majorops.shared.jetstream import (
    INGEST_SEEN_DESCRIPTION,
    ensure_key_value,
    publish_acked_batch,
    stored_with_msg_id,
)

__all__ = ["JetStreamEventPublisher"]

CLAIM_ATTEMPTS = 16
"""Compare-and-set rounds on one id before the request is answered 503 (each lost round means
another request changed the id's entry meanwhile)."""
_WRONG_LAST_SEQUENCE = (10071, 10164)


class IdContended(RuntimeError):
    """An id's entry kept changing under this request: retry it (a 503)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """This request holds the id's latest claim (at ``revision``) and publishes the event."""

    position: int
    revision: int
    created: bool
    """The id was free: on a conflict elsewhere in the request, the claim is withdrawn."""
    search: tuple[str, ...] = ()
    """A claim taken over: the subjects where an earlier claimant may have published it."""


class _Seen:
    """The id is recorded as published (same content, or other content where that is allowed)."""


class _Conflict:
    """The id is recorded or claimed with other content."""


SEEN = _Seen()
CONFLICT = _Conflict()
ClaimOutcome = Claim | _Seen | _Conflict


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
        """Look the ids up (with ``refuse_conflicts``, one recorded with another digest is
        :class:`IdsTaken` before anything is written), claim each new one, publish the claimed ones
        (pipelined, in order), then record what the stream holds for each."""
        keys = [seen_key(event.id) for event in events]
        where = [subjects.event_subject(event.incident_id, event.type) for event in events]
        entries = await asyncio.gather(*(self._read(key) for key in keys))
        if refuse_conflicts:
            taken = [i for i, r in enumerate(entries) if r is not None and not r.same_content(digests[i])]
            if taken:
                raise IdsTaken(taken)
        open_ids = [i for i, entry in enumerate(entries) if entry is None or entry.claimed]
        outcomes = await asyncio.gather(
            *(self._claim(i, keys[i], digests[i], where[i], entries[i], refuse_conflicts) for i in open_ids),
            return_exceptions=True,
        )
        claims = [outcome for outcome in outcomes if isinstance(outcome, Claim)]
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        conflicts = [i for i, outcome in zip(open_ids, outcomes, strict=True) if outcome is CONFLICT]
        if failed or conflicts:
            await self._withdraw([claim for claim in claims if claim.created], keys)
            if failed:
                raise failed[0]
            raise IdsTaken(conflicts)
        return await self._publish_claimed(events, digests, keys, where, claims)

    async def _publish_claimed(
        self,
        events: Sequence[CloudEvent],
        digests: Sequence[str],
        keys: Sequence[str],
        where: Sequence[str],
        claims: Sequence[Claim],
    ) -> list[bool]:
        new = [False] * len(events)
        stored: dict[int, str] = {}  # per claimed position, the digest of what the stream holds
        found = await asyncio.gather(*(self._published(events[c.position].id, c.search) for c in claims))
        to_publish = []
        for claim, digest in zip(claims, found, strict=True):
            if digest is None:
                to_publish.append(claim)
            else:
                stored[claim.position] = digest
        acks = await publish_acked_batch(
            self.js,
            [
                (
                    where[c.position],
                    json.dumps(
                        events[c.position].to_wire(), ensure_ascii=False, separators=(",", ":")
                    ).encode(),
                    events[c.position].id,
                )
                for c in to_publish
            ],
        )
        for claim, ack in zip(to_publish, acks, strict=True):
            i = claim.position
            if ack.duplicate:  # an earlier claimant's publish landed in the window: what did it store?
                stored[i] = await self._digest_at(ack.seq) or digests[i]
            else:
                stored[i], new[i] = digests[i], True
        await asyncio.gather(
            *(self._settle_claim(keys[c.position], stored[c.position], c.revision) for c in claims)
        )
        return new

    async def _read(self, key: str) -> SeenEntry | None:
        try:
            entry = await self.seen.get(key)
        except KeyNotFoundError:
            return None
        return parse_entry(entry.value, entry.revision or 0)

    async def _claim(
        self, position: int, key: str, digest: str, subject: str, entry: SeenEntry | None, refuse: bool
    ) -> ClaimOutcome:
        """Claim a free id, or take over a claim left by a request that did not finish (a crash, a
        503, or one still publishing: JetStream's duplicate window drops the second copy)."""
        value = claim_value(digest, subject)
        for _ in range(CLAIM_ATTEMPTS):
            try:
                if entry is None:
                    return Claim(position, await self.seen.create(key, value), created=True)
                if not entry.claimed:
                    return SEEN if entry.same_content(digest) or not refuse else CONFLICT
                if refuse and not entry.same_content(digest):
                    return CONFLICT
                revision = await self.seen.update(key, value, last=entry.revision)
                search = tuple(dict.fromkeys((entry.claimed_on or subject, subject)))
                return Claim(position, revision, created=False, search=search)
            except KeyWrongLastSequenceError:
                entry = await self._read(key)
        raise IdContended(f"the entry of an id kept changing over {CLAIM_ATTEMPTS} attempts")

    async def _published(self, event_id: str, search: Sequence[str]) -> str | None:
        """The digest of the event stored under ``event_id`` on one of the subjects, or None."""
        for subject in search:
            msg = await stored_with_msg_id(self.js, subjects.EVENTS_STREAM, subject, event_id)
            if msg is not None and msg.data:
                return wire_digest(json.loads(msg.data))
        return None

    async def _digest_at(self, seq: int) -> str | None:
        try:
            msg = await self.js.get_msg(subjects.EVENTS_STREAM, seq=seq, direct=True)
        except NotFoundError:
            return None
        return wire_digest(json.loads(msg.data)) if msg.data else None

    async def _settle_claim(self, key: str, digest: str, revision: int) -> None:
        """The claim becomes the digest of what the stream holds — unless another request took the
        claim over meanwhile (it finds the event in the stream and records it itself)."""
        try:
            await self.seen.update(key, digest.encode(), last=revision)
        except KeyWrongLastSequenceError:
            pass

    async def _withdraw(self, claims: Sequence[Claim], keys: Sequence[str]) -> None:
        """Free the ids this request claimed when it publishes nothing after all (a conflict): a
        delete on the claim's revision, which leaves alone a claim another request took over."""

        async def withdraw(claim: Claim) -> None:
            try:
                await self.seen.delete(keys[claim.position], last=claim.revision)
            except BadRequestError as exc:
                if exc.err_code not in _WRONG_LAST_SEQUENCE:
                    raise

        await asyncio.gather(*(withdraw(claim) for claim in claims))
