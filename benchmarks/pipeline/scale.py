"""Phases 5 and 6: memory over a long run, and one incident of 10 … 10,000 events.

Both load the system with volume rather than rate: the memory run samples each process's RSS while
new incidents flow (bounded ahead of the slowest consumer); the size phase times one ever larger
incident up to its complete review.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from nats.js import JetStreamContext

from benchmarks.pipeline.events import batches, big_incident, interleaved
from benchmarks.pipeline.observe import ReportsDb, backlog, slowest_backlog, wait_until
from benchmarks.pipeline.plan import CLIENTS, INTERLEAVE, MEMORY_WINDOW, PER_INCIDENT
from benchmarks.pipeline.system import UpSystem
from benchmarks.pipeline.throughput import post_batches
from majorops.shared.testing import INGEST_TOKEN, bearer


@dataclass
class SizeRun:
    size: int
    seconds: float | None
    recorded_s: float | None
    cpu: dict[str, float]
    reached: int = 0
    waited_s: float = 0.0


async def incident_size(
    system: UpSystem, js: JetStreamContext, size: int, timeout: float, drain: bool = True
) -> SizeRun:
    incident = f"SIZE{size}-0000001"
    events = big_incident(incident, size, datetime.now(UTC))
    db = ReportsDb(system.reports_db)
    before = system.snapshot()
    first_post = math.inf
    queue = list(reversed(batches(events)))

    async def client() -> None:
        nonlocal first_post
        async with httpx.AsyncClient(
            base_url=system.ingest, timeout=60, headers=bearer(INGEST_TOKEN)
        ) as http:
            while queue:
                body = queue.pop()
                # From the first POST sent: with one batch the review can be complete before its 202
                # is back (consumers work while ingest records the ids it published).
                first_post = min(first_post, time.perf_counter())
                resp = await http.post("/v1/events", json=body)
                if resp.status_code != 202:
                    raise RuntimeError(f"ingest answered {resp.status_code}: {resp.text[:300]}")

    try:
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        recorded_ok, recorded_at = await wait_until(
            lambda: asyncio.to_thread(lambda: db.recorded(f"SIZE{size}") >= size), timeout
        )
        reviewed_ok, reviewed_at = await wait_until(
            lambda: asyncio.to_thread(lambda: db.timeline_length(incident) >= size),
            max(timeout - (recorded_at - first_post), 5.0),
            0.2,
        )

        async def drained() -> bool:
            return await backlog(js) == 0

        reached = await asyncio.to_thread(db.timeline_length, incident)
        if drain:
            await wait_until(drained, 60, 0.2)
    finally:
        db.close()
    after = system.snapshot()
    return SizeRun(
        size=size,
        seconds=reviewed_at - first_post if reviewed_ok else None,
        recorded_s=recorded_at - first_post if recorded_ok else None,
        cpu={n: after[n].cpu_s - before[n].cpu_s for n in after if n in before},
        reached=reached,
        waited_s=reviewed_at - first_post,
    )


@dataclass
class MemoryRun:
    events: int
    seconds: float
    samples: list[dict[str, Any]]
    budget_s: float
    stopped_by_budget: bool


async def memory_run(system: UpSystem, js: JetStreamContext, events: int, budget: float) -> MemoryRun:
    """``events`` events of new 20-event incidents through HTTP (4 clients, batches of 100), at most
    ``MEMORY_WINDOW`` ahead of the slowest consumer; RSS of each process sampled 20 times."""
    incidents = events // PER_INCIDENT
    step = max(incidents // 20, INTERLEAVE)
    step -= step % INTERLEAVE
    samples: list[dict[str, Any]] = []
    began = time.perf_counter()
    deadline = began + budget
    sent = 0

    def sample(label: str) -> None:
        samples.append(
            {
                "events": sent,
                "at_s": round(time.perf_counter() - began, 1),
                "label": label,
                "rss_mib": {n: round(s.rss_mib, 1) for n, s in system.snapshot().items()},
            }
        )

    sample("start")
    stopped = False
    for first in range(0, incidents, step):
        if time.perf_counter() > deadline:
            stopped = True
            break
        chunk = interleaved("MEM", min(step, incidents - first), datetime.now(UTC), first)
        await post_batches(system.ingest, batches(chunk))
        sent += len(chunk)

        async def caught_up() -> bool:
            return await slowest_backlog(js) <= MEMORY_WINDOW

        await wait_until(caught_up, max(deadline - time.perf_counter(), 1.0), 0.2)
        sample("running")

    async def drained() -> bool:
        return await backlog(js) == 0

    await wait_until(drained, 120, 0.5)
    sample("end (drained)")
    return MemoryRun(sent, time.perf_counter() - began, samples, budget, stopped)
