"""Ingest throughput and latency: POST /v1/events through the real app to a real JetStream."""

from __future__ import annotations

import time
from typing import Any

import httpx

from benchmarks.harness import BenchContext, Result, summary
from majorops.ingest.bootstrap import create_app
from majorops.ingest.config import IngestSettings
from majorops.shared.testing import INGEST_TOKEN, TOKEN_SETTINGS, bearer


def _event(incident: str, n: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"bench-{incident}-{n}",
        "source": "bench",
        "type": "majorops.timeline.logged",
        "time": "2026-11-20T10:00:00Z",
        "subject": incident,
        "data": {"text": f"step {n}"},
    }


async def run(ctx: BenchContext) -> list[Result]:
    app = create_app(IngestSettings(nats_url=ctx.nats_url, ingest_tokens=TOKEN_SETTINGS["ingest_tokens"]))
    results = []
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            headers=bearer(INGEST_TOKEN), transport=httpx.ASGITransport(app=app), base_url="http://i"
        ) as http:
            singles = 200 if ctx.quick else 1000
            latencies = []
            for n in range(singles):
                began = time.perf_counter()
                resp = await http.post("/v1/events", json=_event("BENCH-SINGLE", n))
                latencies.append((time.perf_counter() - began) * 1000)
                assert resp.status_code == 202, resp.text
            s = summary(latencies)
            results.append(Result("POST one event, p50", s["p50"], "ms", {"n": singles}))
            results.append(Result("POST one event, p99", s["p99"], "ms", {"n": singles}))
            batches = 3 if ctx.quick else 10
            began = time.perf_counter()
            for b in range(batches):
                resp = await http.post(
                    "/v1/events", json=[_event(f"BENCH-BATCH-{b}", n) for n in range(1000)]
                )
                assert resp.json() == {"accepted": 1000, "duplicates": 0}, resp.text
            elapsed = time.perf_counter() - began
            results.append(Result("POST batches of 1000, events/s", batches * 1000 / elapsed, "events/s"))
            began = time.perf_counter()
            resp = await http.post("/v1/events", json=[_event("BENCH-BATCH-0", n) for n in range(1000)])
            assert resp.json() == {"accepted": 0, "duplicates": 1000}
            results.append(Result("re-POST 1000 duplicates", (time.perf_counter() - began) * 1000, "ms"))
    return results
