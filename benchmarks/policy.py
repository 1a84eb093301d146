"""Policy: decision latency through a real nats-server, and what re-deriving an incident costs by its size.

- Decision latency: the real :class:`PolicyRuntime` consumes ``majorops.events.>``; the clock runs
  from publishing an event to JetStream (as ingest does, PubAck awaited) to receiving the decision
  it caused on ``majorops.decisions.<incident_id>``. One event in flight at a time, each of which
  changes the decision: for a new incident (revision 1) and for an incident whose history grows.
- Re-derivation by size (10 … 10,000 events): the handlers on the real SQLite store, without a
  broker (a publisher in memory), so the figures are policy's own cost. Per size: the mean cost of
  handling each event as it arrives (store + derive), the cost of one more event once the incident
  has N events, and a cold re-derivation from the store (a restarted replica, empty cache) divided
  by N. All three must stay flat per event as N grows: no refold of the history per event.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from benchmarks.harness import BenchContext, Result, summary
from majorops.policy.adapters.sqlite import SqlitePolicyStore
from majorops.policy.bootstrap import PolicyRuntime
from majorops.policy.config import PolicySettings
from majorops.policy.domain.business_days import BusinessCalendar
from majorops.policy.handlers import PolicyPorts, decide_incident, handle_events
from majorops.shared import subjects
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.jetstream import ensure_streams

SIZES = (10, 100, 1_000, 10_000)
QUICK_SIZES = (10, 100, 1_000)
DECISION_TIMEOUT_SECONDS = 30.0
EXTRA_EVENTS = 50
START = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _event(incident: str, n: int, kind: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"bench-{incident}-{n}",
        "source": "bench",
        "type": f"majorops.{kind}",
        "time": at.isoformat().replace("+00:00", "Z"),
        "subject": incident,
        "data": data,
    }


def incident_history(incident: str, size: int) -> list[dict[str, Any]]:
    """A plausible incident of ``size`` events: mostly notes and status posts, with the facts that matter
    (declaration, updates, action items, meetings) spread through it, and its end at the end."""
    ending = [
        ("incident.resolved", {}),
        ("incident.closed", {}),
        ("rootcause.identified", {"fingerprint": f"bench-{incident}", "unusual": True}),
    ]
    body = max(size - 2 - len(ending), 0)
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("alert.fired", {"alert_name": "HighLatency", "customer_count": 12}),
        ("incident.declared", {"title": "Checkout latency", "severity": "high"}),
    ]
    for n in range(body):
        if n % 200 == 199:
            kinds.append(
                ("afteraction.rescheduled", {"meeting_at": (START + timedelta(days=7, hours=n)).isoformat()})
            )
        elif n % 100 == 49:
            kinds.append(("actionitem.created", {"item_id": f"AI-{n}", "title": f"Fix {n}", "owner": "@sre"}))
        elif n % 100 == 79:
            kinds.append(("actionitem.completed", {"item_id": f"AI-{n - 30}"}))
        elif n % 50 == 9:
            kinds.append(("incident.updated", {"affected_users": 100 + n}))
        elif n % 10 == 5:
            kinds.append(("status.posted", {"audience": "internal", "text": f"update {n}"}))
        else:
            kinds.append(("timeline.logged", {"text": f"step {n}", "by": "@oncall"}))
    kinds.extend(ending)
    return [
        _event(incident, n, kind, data, START + timedelta(seconds=n))
        for n, (kind, data) in enumerate(kinds[:size])
    ]


class InMemoryDecisions:
    """A publisher that keeps decisions in memory: the re-derivation figures exclude the broker."""

    def __init__(self) -> None:
        self.published = 0

    async def publish(self, decision: AfterActionDecision) -> bool:
        self.published += 1
        return True


async def run(ctx: BenchContext) -> list[Result]:
    results = await _decision_latency(ctx)
    results += await _rederivation_by_size(ctx)
    return results


async def _decision_latency(ctx: BenchContext) -> list[Result]:
    settings = PolicySettings(nats_url=ctx.nats_url, data_dir=ctx.scratch / "latency", mongodb_url=None)
    runtime = PolicyRuntime(settings)
    nc = await nats.connect(ctx.nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    arrivals: dict[str, asyncio.Queue[tuple[int, float]]] = {}

    async def on_decision(msg: Msg) -> None:
        received = time.perf_counter()
        body = json.loads(msg.data)
        arrivals.setdefault(body["incident_id"], asyncio.Queue()).put_nowait((body["revision"], received))

    sub = await nc.subscribe(subjects.ALL_DECISIONS, cb=on_decision)
    results: list[Result] = []
    try:
        await runtime.start()
        try:
            results += await _catch_up(js)
            singles = 50 if ctx.quick else 300
            latencies = []
            for n in range(singles):
                incident = f"BENCH-LAT-{n}"
                declared = _event(incident, 0, "incident.declared", {"title": "t", "severity": "P1"}, START)
                latencies.append(await _publish_and_wait(js, declared, arrivals, expected_revision=1))
            s = summary(latencies)
            detail = {"n": singles, "from": "event published (PubAck awaited)", "to": "decision received"}
            results.append(Result("decision latency, new incident, p50", s["p50"], "ms", detail))
            results.append(Result("decision latency, new incident, p99", s["p99"], "ms", detail))
            updates = 50 if ctx.quick else 300
            incident = "BENCH-LAT-GROWING"
            first = _event(incident, 0, "incident.declared", {"title": "t", "severity": "P1"}, START)
            await _publish_and_wait(js, first, arrivals, expected_revision=1)
            latencies = []
            for n in range(1, updates + 1):
                # Each a later reschedule to a later meeting: a new draft_due, so a new revision.
                meeting = (START + timedelta(days=10, hours=n)).isoformat()
                event = _event(
                    incident,
                    n,
                    "afteraction.rescheduled",
                    {"meeting_at": meeting},
                    START + timedelta(minutes=n),
                )
                latencies.append(await _publish_and_wait(js, event, arrivals, expected_revision=n + 1))
            s = summary(latencies)
            detail = {"n": updates, "history": f"1 → {updates + 1} events"}
            results.append(
                Result(
                    "decision latency, changed decision of a growing incident, p50", s["p50"], "ms", detail
                )
            )
            results.append(
                Result(
                    "decision latency, changed decision of a growing incident, p99", s["p99"], "ms", detail
                )
            )
        finally:
            await runtime.stop()
    finally:
        await sub.unsubscribe()
        await nc.drain()
    return results


async def _catch_up(js: JetStreamContext) -> list[Result]:
    """Events already on the stream (e.g. from the ingest benchmark) are handled first, and timed apart."""
    durable = subjects.durable_name("policy", subjects.EVENTS_STREAM)
    began = time.perf_counter()
    info = await js.consumer_info(subjects.EVENTS_STREAM, durable)
    backlog = (info.num_pending or 0) + (info.num_ack_pending or 0)
    while (info.num_pending or 0) + (info.num_ack_pending or 0) > 0:
        await asyncio.sleep(0.1)
        info = await js.consumer_info(subjects.EVENTS_STREAM, durable)
    if backlog == 0:
        return []
    elapsed = time.perf_counter() - began
    return [
        Result(
            "catch up a backlog on the stream, events/s", backlog / elapsed, "events/s", {"backlog": backlog}
        )
    ]


async def _publish_and_wait(
    js: JetStreamContext,
    event: dict[str, Any],
    arrivals: dict[str, asyncio.Queue[tuple[int, float]]],
    expected_revision: int,
) -> float:
    queue = arrivals.setdefault(event["subject"], asyncio.Queue())
    began = time.perf_counter()
    await js.publish(
        subjects.event_subject(event["subject"], event["type"]),
        json.dumps(event).encode(),
        headers={"Nats-Msg-Id": event["id"]},
    )
    revision, received = await asyncio.wait_for(queue.get(), DECISION_TIMEOUT_SECONDS)
    if revision != expected_revision:
        raise RuntimeError(f"{event['subject']}: expected revision {expected_revision}, got {revision}")
    return (received - began) * 1000


async def _rederivation_by_size(ctx: BenchContext) -> list[Result]:
    results: list[Result] = []
    calendar = BusinessCalendar()
    for size in QUICK_SIZES if ctx.quick else SIZES:
        incident = f"BENCH-SIZE-{size}"
        store = SqlitePolicyStore(ctx.scratch / f"rederive-{size}.sqlite3")
        await store.open()
        try:
            publisher = InMemoryDecisions()
            ports = PolicyPorts.of(store, publisher, calendar)
            history = incident_history(incident, size)
            began = time.perf_counter()
            for arrival, event in enumerate(history, start=1):
                await handle_events([(event, arrival)], ports)
            per_event = (time.perf_counter() - began) / size * 1e6
            detail = {"events": size, "revisions": publisher.published}
            results.append(
                Result(f"handle each event as it arrives, {size} events, mean", per_event, "µs/event", detail)
            )

            extra = []
            for n in range(EXTRA_EVENTS):
                note = _event(
                    incident,
                    size + n,
                    "timeline.logged",
                    {"text": "late note"},
                    START + timedelta(hours=5, seconds=n),
                )
                began = time.perf_counter()
                await handle_events([(note, size + n + 1)], ports)
                extra.append((time.perf_counter() - began) * 1000)
            results.append(
                Result(
                    f"one more event on an incident of {size} events, p50",
                    statistics.median(extra),
                    "ms",
                    {"n": len(extra)},
                )
            )

            cold = []
            for _ in range(3):
                restarted = PolicyPorts.of(store, InMemoryDecisions(), calendar)
                began = time.perf_counter()
                await decide_incident(incident, restarted)
                cold.append(time.perf_counter() - began)
            best = min(cold)
            results.append(
                Result(
                    f"re-derive an incident of {size} events from the store (cold cache), per event",
                    best / (size + EXTRA_EVENTS) * 1e6,
                    "µs/event",
                    {"total_ms": round(best * 1000, 2), "runs": len(cold)},
                )
            )
        finally:
            await store.close()
    return results
