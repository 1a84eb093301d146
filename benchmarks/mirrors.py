"""What the other systems' read-only mirrors cost (issue 20): the raw publish rate into
``MAJOROPS_EVENTS`` on a nats-server with the shipped accounts and ``sync_interval: always``,
without and with the mirrors of the account ``OTHERS``, and how far a mirror lags behind the last
acknowledged publish.

A mirror is a second copy of every message, written (and fsynced) by the same server, so the bound
is the disk's fsync rate shared by two streams. Each variant runs on a fresh server, three times;
the median is reported with every run.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import nats

from benchmarks.harness import BenchContext, Result
from majorops.cli.natsserver import NatsServer, free_port
from majorops.shared import nats_access, subjects
from majorops.shared.jetstream import ensure_mirrors, provision

OWN_SERVERS = True
RUNS = 3
PIPELINE = 64
BODY = (
    b'{"specversion":"1.0","id":"x","source":"bench","type":"majorops.incident.updated",'
    b'"time":"2026-11-20T09:00:00Z","subject":"INC-1","data":{"title":"' + b"x" * 300 + b'"}}'
)


async def _one(scratch: Path, events: int, mirrors: bool) -> tuple[float, float | None]:
    """Events per second acknowledged, and the mirror's lag after the last acknowledgement (s)."""
    passwords = nats_access.generate_passwords()
    server = NatsServer(data_dir=scratch, port=free_port(), users=passwords)
    server.start()
    try:
        admin = await nats.connect(server.url, user=nats_access.ADMIN, password=passwords[nats_access.ADMIN])
        js = admin.jetstream()
        await provision(js)
        if mirrors:
            replicator = await nats.connect(
                server.url, user=nats_access.REPLICATOR, password=passwords[nats_access.REPLICATOR]
            )
            await ensure_mirrors(replicator.jetstream())
            await replicator.close()
        began = time.perf_counter()
        for start in range(0, events, PIPELINE):
            acks = [
                await js.publish_async(
                    subjects.event_subject(f"INC-{n % 50}", "majorops.incident.updated"),
                    BODY,
                    headers={"Nats-Msg-Id": f"e{n}"},
                )
                for n in range(start, min(events, start + PIPELINE))
            ]
            await asyncio.gather(*acks)
        rate = events / (time.perf_counter() - began)
        lag = None
        if mirrors:
            other = await nats.connect(
                server.url, user=nats_access.CONSUMER, password=passwords[nats_access.CONSUMER]
            )
            acked = time.perf_counter()
            for _ in range(3000):  # at most about 30 s
                if (await other.jetstream().stream_info(subjects.EVENTS_STREAM)).state.last_seq >= events:
                    break
                await asyncio.sleep(0.01)
            lag = time.perf_counter() - acked
            await other.close()
        await admin.close()
        return rate, lag
    finally:
        server.stop()


async def run(ctx: BenchContext) -> list[Result]:
    events = 1000 if ctx.quick else 5000
    results: list[Result] = []
    for mirrors in (False, True):
        runs = [await _one(ctx.scratch / f"mirrors-{mirrors}-{n}", events, mirrors) for n in range(RUNS)]
        rates = [rate for rate, _ in runs]
        label = "with the OTHERS mirrors" if mirrors else "without mirrors"
        results.append(
            Result(
                f"raw publish to MAJOROPS_EVENTS, sync always, {label}",
                statistics.median(rates),
                "events/s",
                {"runs": [round(r) for r in rates], "events": events, "pipelined": PIPELINE},
            )
        )
        lags = [lag for _, lag in runs if lag is not None]
        if lags:
            results.append(
                Result(
                    "mirror lag after the last acknowledged publish",
                    statistics.median(lags),
                    "s",
                    {"runs": [round(lag, 3) for lag in lags]},
                )
            )
    return results
