"""JetStream as the tests read and write it: publishing as the producers do, reading streams back,
waiting for consumers, and cleaning up after a test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy, RawStreamMsg
from nats.js.errors import NotFoundError

from majorops.shared import subjects
from majorops.shared.jetstream import ensure_streams
from majorops.shared.testing.configuration import DEADLINE_SECONDS, DEFAULT_STREAM_ROOTS
from majorops.shared.testing.processes import eventually

# --- JetStream -------------------------------------------------------------------------------------


@asynccontextmanager
async def connected_jetstream(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream context on a fresh connection, every stream ensured; drained on exit."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        yield js
    finally:
        await nc.drain()


async def publish_event(js: JetStreamContext, event: dict[str, Any], msg_id: str | None = None) -> int:
    """Publish an envelope as ingest does (its id as ``Nats-Msg-Id``); the stream sequence is returned."""
    ack = await js.publish(
        subjects.event_subject(event["subject"], event["type"]),
        json.dumps(event).encode(),
        headers={"Nats-Msg-Id": msg_id or event["id"]},
    )
    return ack.seq


async def publish_decision(js: JetStreamContext, body: dict[str, Any], msg_id: str | None = None) -> int:
    """Publish a decision as policy does (``<incident_id>:<revision>`` as ``Nats-Msg-Id``)."""
    ack = await js.publish(
        subjects.decision_subject(body["incident_id"]),
        json.dumps(body).encode(),
        headers={"Nats-Msg-Id": msg_id or f"{body['incident_id']}:{body['revision']}"},
    )
    return ack.seq


async def stored_messages(
    js: JetStreamContext, stream: str, subject: str, from_seq: int = 1
) -> list[RawStreamMsg]:
    """Every message of ``stream`` on ``subject`` (wildcards allowed) from ``from_seq`` on, in stream
    order, as the stream stores it (read with direct gets: no consumer, nothing acknowledged)."""
    found: list[RawStreamMsg] = []
    seq = from_seq
    while True:
        try:
            msg = await js.get_msg(stream, seq=seq, subject=subject, next=True, direct=True)
        except NotFoundError:
            return found
        assert msg.seq is not None
        found.append(msg)
        seq = msg.seq + 1


def msg_id_of(msg: RawStreamMsg | Msg) -> str:
    """The message's ``Nats-Msg-Id`` header, or ``""``."""
    return (msg.headers or {}).get("Nats-Msg-Id", "")


async def consumed_messages(
    js: JetStreamContext, stream: str, subject: str, batch: int = 256, wait: float = 0.3
) -> list[Msg]:
    """Every message of ``stream`` on ``subject``, delivered to an ephemeral pull consumer until a
    fetch waits ``wait`` seconds in vain (what a new subscriber would be given)."""
    sub = await js.pull_subscribe(
        subject,
        stream=stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=5),
    )
    found: list[Msg] = []
    try:
        while True:
            try:
                msgs = await sub.fetch(batch, timeout=wait)
            except TimeoutError:  # nats-py raises its own subclass, or asyncio's near the deadline
                return found
            for msg in msgs:
                found.append(msg)
                await msg.ack()
    finally:
        await sub.unsubscribe()


async def published_events(nats_url: str, incident: str, limit: int = 100) -> list[Msg]:
    """Every event JetStream holds for one incident (at most ``limit``), read back through an
    ephemeral consumer, in stream order."""
    async with connected_jetstream(nats_url) as js:
        root = f"{subjects.EVENTS_ROOT}.{incident}.>"
        return await consumed_messages(js, subjects.EVENTS_STREAM, root, limit, 0.5)


async def dead_letters(js: JetStreamContext, service: str) -> list[dict[str, Any]]:
    """Every dead letter of ``service`` (``subject``, ``payload``, ``reason``, ``service``, …)."""
    msgs = await consumed_messages(js, subjects.DEADLETTER_STREAM, subjects.deadletter_subject(service))
    return [json.loads(msg.data) for msg in msgs]


async def purge_incidents(
    js: JetStreamContext, prefix: str, streams: Sequence[tuple[str, str]] = DEFAULT_STREAM_ROOTS
) -> None:
    """Remove a test's messages (incident ids ``<prefix>`` or ``<prefix>-…``) from the session's
    streams: other services' tests later in the session would otherwise consume them as a backlog
    (and reminders would escalate these long-closed incidents)."""
    for stream, root in streams:
        info = await js.stream_info(stream, subjects_filter=f"{root}.>")
        for subject in info.state.subjects or {}:
            incident = subject.split(".")[2]
            if incident == prefix or incident.startswith(f"{prefix}-"):
                await js.purge_stream(stream, subject=subject)


async def consumers_settled(
    js: JetStreamContext, durables: Sequence[tuple[str, str]], what: str, timeout: float = DEADLINE_SECONDS
) -> None:
    """Wait until each ``(stream, durable)`` has nothing left to deliver and nothing unacknowledged."""

    async def state() -> list[tuple[int, int]]:
        out = []
        for stream, durable in durables:
            info = await js.consumer_info(stream, durable)
            out.append((info.num_pending or 0, info.num_ack_pending or 0))
        return out

    await eventually(state, lambda s: s == [(0, 0)] * len(durables), what, timeout)


def service_durables(service: str, *streams: str) -> tuple[tuple[str, str], ...]:
    """``(stream, durable)`` of each stream a service consumes."""
    return tuple((stream, subjects.durable_name(service, stream)) for stream in streams)
