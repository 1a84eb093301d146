"""Phases 1 and 2: sustained ingest through HTTP or NATS requests, up to every review materialised.

Also the HTTP and NATS senders (batches, concurrent clients) that the census and the memory run
reuse, and the GET check of every review afterwards.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from benchmarks.pipeline.events import batches, incident_id, interleaved
from benchmarks.pipeline.observe import ReportsDb, backlog, consumer_state, jsz, stream_state, wait_until
from benchmarks.pipeline.plan import CLIENTS, PER_INCIDENT, STREAMS
from benchmarks.pipeline.system import MachineClock, UpSystem, client_cpu_seconds
from majorops.shared import subjects
from majorops.shared.testing import INGEST_TOKEN, READ_TOKEN, bearer


@dataclass
class Sustained:
    via: str
    events: int
    incidents: int
    accept_s: float
    recorded_s: float | None
    reviewed_s: float | None
    drained_s: float | None
    cpu: dict[str, float]
    hwm: dict[str, float]
    writes: dict[str, int]
    acks: dict[str, int]
    io: dict[str, float]
    jsz: dict[str, float]
    client_cpu_s: float
    verified: int
    errors: int
    machine: dict[str, float]

    def rate(self, seconds: float | None) -> float | None:
        return self.events / seconds if seconds else None


async def post_batches(
    base_url: str, work: list[list[dict[str, Any]]], clients: int = CLIENTS
) -> tuple[float, float, int]:
    """POST each batch (``clients`` concurrent); (first POST, last 202) perf_counter times, errors."""
    queue = list(reversed(work))
    first, last = math.inf, 0.0
    errors = 0

    async def client() -> None:
        nonlocal first, last, errors
        async with httpx.AsyncClient(base_url=base_url, timeout=60, headers=bearer(INGEST_TOKEN)) as http:
            while queue:
                body = queue.pop()
                first = min(first, time.perf_counter())
                for _attempt in range(3):
                    resp = await http.post("/v1/events", json=body)
                    if resp.status_code == 202:
                        break
                    errors += 1
                    await asyncio.sleep(0.5)
                last = max(last, time.perf_counter())

    await asyncio.gather(*(client() for _ in range(clients)))
    return first, last, errors


async def request_batches(
    nc: Client, work: list[list[dict[str, Any]]], clients: int = CLIENTS
) -> tuple[float, float, int]:
    """NATS requests to ``majorops.ingest`` (``clients`` concurrent requesters)."""
    queue = list(reversed(work))
    first, last = math.inf, 0.0
    errors = 0

    async def requester() -> None:
        nonlocal first, last, errors
        while queue:
            body = json.dumps(queue.pop()).encode()
            first = min(first, time.perf_counter())
            for _attempt in range(3):
                try:
                    reply = await nc.request(subjects.INGEST_REQUEST, body, timeout=60)
                    if "accepted" in json.loads(reply.data):
                        break
                except (TimeoutError, nats.errors.Error):
                    pass
                errors += 1
                await asyncio.sleep(0.5)
            last = max(last, time.perf_counter())

    await asyncio.gather(*(requester() for _ in range(clients)))
    return first, last, errors


async def verify_reviews(base_url: str, incidents: list[str], expected: int) -> int:
    """GET /v1/reviews/<id> of each incident; how many hold ``expected`` timeline entries."""
    ok = 0
    queue = list(incidents)

    async def reader() -> None:
        nonlocal ok
        async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=bearer(READ_TOKEN)) as http:
            while queue:
                resp = await http.get(f"/v1/reviews/{queue.pop()}")
                if resp.status_code == 200 and len(resp.json().get("timeline", [])) == expected:
                    ok += 1

    await asyncio.gather(*(reader() for _ in range(8)))
    return ok


async def sustained(
    system: UpSystem, js: JetStreamContext, nc: Client, via: str, tag: str, incidents: int, timeout: float
) -> Sustained:
    db = ReportsDb(system.reports_db)
    events = interleaved(tag, incidents, datetime.now(UTC))
    work = batches(events)
    total = len(events)
    before, streams0, consumers0, jsz0 = (
        system.snapshot(),
        await stream_state(js),
        await consumer_state(js),
        await jsz(system.monitor_url()),
    )
    client0 = client_cpu_seconds()
    clock0 = MachineClock.now(system)
    try:
        if via == "http":
            first, last, errors = await post_batches(system.ingest, work)
        else:
            first, last, errors = await request_batches(nc, work)
        remaining = timeout
        recorded_ok, recorded_at = await wait_until(
            lambda: asyncio.to_thread(lambda: db.recorded(tag) >= total), remaining
        )
        remaining = max(timeout - (recorded_at - first), 5.0)
        reviewed_ok, reviewed_at = await wait_until(
            lambda: asyncio.to_thread(lambda: db.complete_reviews(tag, PER_INCIDENT) >= incidents), remaining
        )

        async def drained() -> bool:
            return await backlog(js) == 0

        drained_ok, drained_at = await wait_until(drained, max(timeout - (reviewed_at - first), 5.0), 0.2)
    finally:
        db.close()
    after, streams1, consumers1, jsz1 = (
        system.snapshot(),
        await stream_state(js),
        await consumer_state(js),
        await jsz(system.monitor_url()),
    )
    client_cpu = client_cpu_seconds() - client0
    machine_share = MachineClock.now(system).others_since(clock0)
    ids = [incident_id(tag, i) for i in range(incidents)]
    verified = await verify_reviews(system.reports, ids, PER_INCIDENT)
    writes = {
        name: streams1.get(name, {}).get("last_seq", 0) - streams0.get(name, {}).get("last_seq", 0)
        for name in STREAMS
    }
    acks = {
        name: state["ack_floor"] - consumers0.get(name, {}).get("ack_floor", 0)
        for name, state in consumers1.items()
    }
    cpu = {name: after[name].cpu_s - before[name].cpu_s for name in after if name in before}
    io = (
        {
            "nats_write_bytes_per_event": (
                after["nats-server"].write_bytes - before["nats-server"].write_bytes
            )
            / total,
            "nats_syscw_per_event": (after["nats-server"].syscw - before["nats-server"].syscw) / total,
        }
        if "nats-server" in after and "nats-server" in before
        else {}
    )
    jsz_delta = {}
    if jsz0 and jsz1:
        jsz_delta = {
            "storage_bytes_per_event": (jsz1.get("storage", 0) - jsz0.get("storage", 0)) / total,
            "api_calls_per_event": (jsz1.get("api", {}).get("total", 0) - jsz0.get("api", {}).get("total", 0))
            / total,
        }
    return Sustained(
        via=via,
        events=total,
        incidents=incidents,
        accept_s=last - first,
        recorded_s=recorded_at - first if recorded_ok else None,
        reviewed_s=reviewed_at - first if reviewed_ok else None,
        drained_s=drained_at - first if drained_ok else None,
        cpu=cpu,
        hwm={name: stat.hwm_mib for name, stat in after.items()},
        writes=writes,
        acks=acks,
        io=io,
        jsz=jsz_delta,
        client_cpu_s=client_cpu,
        verified=verified,
        errors=errors,
        machine=machine_share,
    )
