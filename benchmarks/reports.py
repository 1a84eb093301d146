"""Reports: Learning Review assembly and rendering by incident size; GET latency under concurrent readers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import nats

from benchmarks.harness import BenchContext, Result, summary
from majorops.reports.bootstrap import create_app
from majorops.reports.config import ReportsSettings
from majorops.reports.domain.learning_review import assemble_learning_review
from majorops.reports.domain.render_html import render_html
from majorops.reports.domain.render_markdown import render_markdown
from majorops.reports.domain.timeline import RecordedEvent
from majorops.shared import subjects
from majorops.shared.events import validate_event
from majorops.shared.jetstream import ensure_streams
from majorops.shared.testing import TOKEN_SETTINGS, WRITE_TOKEN, bearer


def incident_events(incident: str, n: int) -> list[dict[str, Any]]:
    """A realistic incident: declaration, roles, a resolution, then ``n`` timeline entries in all."""
    base = [
        ("alert.fired", {"alert_name": "CheckoutLatencyHigh", "service": "checkout", "customer_count": 120}),
        ("incident.confirmed", {}),
        ("incident.declared", {"title": "Checkout latency", "severity": "P1", "customer_impact": True}),
        ("role.assigned", {"role": "mim", "person": "Dana Reyes"}),
        ("vendor.engaged", {"vendor": "Acme DB", "response_sla_minutes": 30}),
        ("incident.mitigated", {}),
        ("incident.resolved", {}),
        (
            "rootcause.identified",
            {"fingerprint": "db-pool", "summary": "The incident was caused by pool exhaustion."},
        ),
    ]
    out = []
    for i in range(n):
        type_, data = base[i] if i < len(base) else ("timeline.logged", {"text": f"step {i}", "by": "@sre"})
        minute = i % 60
        hour = 9 + (i // 60) % 12
        out.append(
            {
                "specversion": "1.0",
                "id": f"{incident}-{i}",
                "source": "bench",
                "type": f"majorops.{type_}",
                "time": f"2026-11-20T{hour:02d}:{minute:02d}:{i % 60:02d}Z",
                "subject": incident,
                "data": data,
            }
        )
    return out


def assembly(ctx: BenchContext) -> list[Result]:
    results = []
    sizes = (100, 1_000) if ctx.quick else (100, 1_000, 10_000)
    for n in sizes:
        recorded = [
            RecordedEvent(validate_event(raw), i + 1) for i, raw in enumerate(incident_events(f"B{n}", n))
        ]
        rounds = 3 if n >= 10_000 else 10
        began = time.perf_counter()
        for _ in range(rounds):
            review = assemble_learning_review(recorded, None, [], None)
        assembled = (time.perf_counter() - began) / rounds
        began = time.perf_counter()
        for _ in range(rounds):
            render_markdown(review)
        md = (time.perf_counter() - began) / rounds
        began = time.perf_counter()
        for _ in range(rounds):
            render_html(review)
        html = (time.perf_counter() - began) / rounds
        results.append(
            Result(
                f"assemble review, {n} events",
                assembled * 1000,
                "ms",
                {"per_event_us": round(assembled / n * 1e6, 2)},
            )
        )
        results.append(Result(f"render Markdown, {n} events", md * 1000, "ms"))
        results.append(Result(f"render HTML, {n} events", html * 1000, "ms"))
    return results


async def readers(ctx: BenchContext) -> list[Result]:
    nc = await nats.connect(ctx.nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    incident = "BENCH-READ"
    for raw in incident_events(incident, 200):
        await js.publish(
            subjects.event_subject(incident, raw["type"]),
            json.dumps(raw).encode(),
            headers={"Nats-Msg-Id": raw["id"]},
        )
    await nc.drain()
    app = create_app(
        ReportsSettings(
            nats_url=ctx.nats_url,
            data_dir=ctx.scratch / "data",
            reports_read_tokens=TOKEN_SETTINGS["reports_read_tokens"],
            reports_write_tokens=TOKEN_SETTINGS["reports_write_tokens"],
        )
    )
    results = []
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            headers=bearer(WRITE_TOKEN), transport=httpx.ASGITransport(app=app), base_url="http://r"
        ) as http:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                resp = await http.get(f"/v1/reviews/{incident}")
                if resp.status_code == 200 and len(resp.json()["timeline"]) == 200:
                    break
                await asyncio.sleep(0.1)
            for concurrency in (1, 16) if ctx.quick else (1, 16, 64):
                per_reader = 20 if ctx.quick else 50
                latencies: list[float] = []

                async def reader(lat: list[float] = latencies, count: int = per_reader) -> None:
                    for _ in range(count):
                        began = time.perf_counter()
                        resp = await http.get(f"/v1/reviews/{incident}")
                        lat.append((time.perf_counter() - began) * 1000)
                        assert resp.status_code == 200

                began = time.perf_counter()
                await asyncio.gather(*(reader() for _ in range(concurrency)))
                elapsed = time.perf_counter() - began
                s = summary(latencies)
                detail = {"requests": len(latencies), "req_per_s": round(len(latencies) / elapsed, 1)}
                results.append(
                    Result(f"GET review (200 events), {concurrency} readers, p50", s["p50"], "ms", detail)
                )
                results.append(
                    Result(f"GET review (200 events), {concurrency} readers, p99", s["p99"], "ms", detail)
                )
    return results


async def run(ctx: BenchContext) -> list[Result]:
    return assembly(ctx) + await readers(ctx)
