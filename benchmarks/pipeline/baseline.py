"""The in-run baseline: raw nats-py on the same server, nothing of ours.

Pipelined ``js.publish_async`` with every PubAck awaited to a file stream configured like ours, then
a durable pull consumer fetching batches (100, and what the services fetch) and acking each message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from datetime import UTC, datetime

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from benchmarks.pipeline.events import incident_events, incident_id
from benchmarks.pipeline.plan import PER_INCIDENT, RAW_STREAM, RAW_SUBJECTS, SERVICE_FETCH_BATCH
from majorops.shared.jetstream import DUPLICATE_WINDOW_SECONDS


async def raw_baseline(url: str, count: int, auth: dict[str, str]) -> dict[str, float]:
    """Raw nats-py on the given server: pipelined publish with PubAcks awaited, pull consume + ack."""
    nc = await nats.connect(url, **auth)
    try:
        js = nc.jetstream(publish_async_max_pending=4_000)
        with contextlib.suppress(Exception):
            await js.delete_stream(RAW_STREAM)
        await js.add_stream(
            StreamConfig(
                name=RAW_STREAM,
                subjects=[RAW_SUBJECTS],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
                allow_direct=True,
            )
        )
        now = datetime.now(UTC)
        messages = []
        for index in range(math.ceil(count / PER_INCIDENT)):
            incident = incident_id("RAW", index)
            for body in incident_events(incident, index, now):
                subject = f"bench.raw.{incident}.{body['type'].removeprefix('majorops.')}"
                messages.append((subject, json.dumps(body).encode(), body["id"]))
        messages = messages[:count]
        size = sum(len(m[1]) for m in messages) / count
        began = time.perf_counter()
        futures = [
            await js.publish_async(subject, payload, headers={"Nats-Msg-Id": msg_id}, wait_stall=60)
            for subject, payload, msg_id in messages
        ]
        acks = await asyncio.wait_for(asyncio.gather(*futures), 120)
        publish_s = time.perf_counter() - began
        assert len(acks) == count and not any(a.duplicate for a in acks)
        out = {"publish": count / publish_s, "payload_bytes": size}
        for batch in (100, SERVICE_FETCH_BATCH):
            sub = await js.pull_subscribe(
                RAW_SUBJECTS,
                durable=f"bench-raw-{batch}",
                stream=RAW_STREAM,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, max_ack_pending=1_000
                ),
            )
            got = 0
            began = time.perf_counter()
            deadline = began + 120
            while got < count and time.perf_counter() < deadline:
                try:
                    msgs = await sub.fetch(batch, timeout=2)
                except TimeoutError:
                    continue
                for msg in msgs:
                    await msg.ack()
                got += len(msgs)
            await nc.flush()
            out[f"consume_{batch}"] = got / (time.perf_counter() - began)
            await sub.unsubscribe()
        await js.delete_stream(RAW_STREAM)
        return out
    finally:
        await nc.close()
