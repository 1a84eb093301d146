"""Phase 4: latency at fixed rates (open loop, one event per POST).

Threads on their own loops time-stamp what comes out — :class:`Observer` (decisions and escalations
over core NATS) and :class:`ReflectionPoller` (reports' SQLite) — while :func:`latency` sends on
schedule and turns the time stamps into the figures of :class:`Latency`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
from nats.aio.msg import Msg

from benchmarks.pipeline.events import Unit, closing_events, latency_units
from benchmarks.pipeline.observe import ReportsDb
from benchmarks.pipeline.rawhttp import IN_FLIGHT, RawHttp
from benchmarks.pipeline.system import MachineClock, UpSystem, client_cpu_seconds
from majorops.shared import subjects


class Observer(threading.Thread):
    """Core NATS subscriptions on decisions and escalations, on their own connection and event loop,
    so that a busy sender never delays the time stamps."""

    def __init__(self, url: str, tag: str, auth: dict[str, str]) -> None:
        super().__init__(name="decision-observer", daemon=True)
        self.url = url
        self.auth = auth
        self.prefix = f"{tag}-"
        self.first_decision: dict[str, float] = {}
        self.escalations: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by the phase
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        nc = await nats.connect(self.url, **self.auth)
        decision_root = len(subjects.DECISIONS_ROOT) + 1

        async def on_decision(msg: Msg) -> None:
            now = time.perf_counter()
            incident = msg.subject[decision_root:]
            if incident.startswith(self.prefix) and incident not in self.first_decision:
                self.first_decision[incident] = now

        async def on_escalation(msg: Msg) -> None:
            wall = time.time()
            body = json.loads(msg.data)
            if str(body.get("incident_id", "")).startswith(self.prefix):
                self.escalations.append({**body, "_received": wall})

        await nc.subscribe(subjects.ALL_DECISIONS, cb=on_decision)
        await nc.subscribe(subjects.ALL_ESCALATIONS, cb=on_escalation)
        await nc.flush()
        self.ready.set()
        await asyncio.to_thread(self.halt.wait)
        await nc.drain()


class ReflectionPoller(threading.Thread):
    """Polls reports' SQLite (read-only) every ``interval``: when each event id was recorded, and when
    it first appears in its incident's materialised review."""

    def __init__(self, db_path: Path, tag: str, interval: float = 0.02) -> None:
        super().__init__(name="review-poller", daemon=True)
        self.db = ReportsDb(db_path)
        self.prefix = f"{tag}-"
        self.interval = interval
        self.expected: dict[str, int] = {}  # incident → events it will get (set by the sender)
        self.recorded: dict[str, float] = {}
        self.reviewed: dict[str, float] = {}
        self.halt = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def expect(self, incident: str, count: int) -> None:
        with self._lock:
            self.expected[incident] = count

    def run(self) -> None:
        try:
            rowid = self.db.max_rowid()
            done: set[str] = set()
            seen_per_incident: Counter[str] = Counter()
            while not self.halt.is_set():
                now = time.perf_counter()
                for row, event_id in self.db.events_after(rowid):
                    rowid = row
                    if event_id.startswith(self.prefix):
                        self.recorded.setdefault(event_id, now)
                with self._lock:
                    active = [i for i in self.expected if i not in done][:400]
                now = time.perf_counter()
                for incident, event_id in self.db.timeline_ids(active):
                    if event_id not in self.reviewed:
                        self.reviewed[event_id] = now
                        seen_per_incident[incident] += 1
                with self._lock:
                    for incident in active:
                        if seen_per_incident[incident] >= self.expected[incident]:
                            done.add(incident)
                time.sleep(self.interval)
        except BaseException as exc:
            self.error = exc
        finally:
            self.db.close()


@dataclass
class Latency:
    rate: int
    seconds: float
    achieved_rate: float
    requests: int
    errors: int
    skipped: int
    post_ms: list[float]
    decision_ms: list[float]
    decision_from_post_ms: list[float]
    decisions_expected: int
    recorded_ms: list[float]
    reviewed_ms: list[float]
    events_accepted: int
    escalation_ms: list[float]
    fired_ms: list[float]
    escalations_expected: int
    client_cpu_s: float
    machine: dict[str, float]


async def latency(system: UpSystem, rate: int, seconds: float, tag: str) -> Latency:
    units, expected = latency_units(tag, rate, seconds)
    observer = Observer(system.url, tag, system.nats_auth())
    poller = ReflectionPoller(system.reports_db, tag)
    observer.start()
    await asyncio.to_thread(observer.ready.wait, 10)
    if observer.error is not None:
        raise observer.error
    poller.start()
    accepted: dict[str, float] = {}  # event id → 202 received
    declared_at: dict[str, float] = {}  # incident → 202 of its incident.declared (single-event POST)
    declared_sent: dict[str, float] = {}  # incident → when that POST was sent
    post_ms: list[float] = []
    dues: dict[str, float] = {}
    sent_per_incident: Counter[str] = Counter()
    errors = 0
    skipped = 0
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    tasks: set[asyncio.Task[None]] = set()
    client0 = client_cpu_seconds()
    clock0 = MachineClock.now(system)
    async with RawHttp("127.0.0.1", system.ingest_port, IN_FLIGHT) as http:

        async def send(unit: Unit) -> None:
            nonlocal errors
            try:
                body = json.dumps(unit.events if unit.closing else unit.events[0]).encode()
                sent = time.perf_counter()
                status = await asyncio.wait_for(http.post("/v1/events", body), 60)
                done = time.perf_counter()
                if status != 202:
                    errors += 1
                    return
                post_ms.append((done - sent) * 1000)
                for event in unit.events:
                    accepted[event["id"]] = done
                if unit.declared:
                    declared_at[unit.incident] = done
                    declared_sent[unit.incident] = sent
            except Exception:  # counted: a refused, reset or malformed exchange
                errors += 1
            finally:
                in_flight.release()

        start = time.perf_counter() + 0.2
        # A system that cannot take the rate gets its requests late (IN_FLIGHT at most); sending
        # stops at 1.5 × the planned duration and the rest is skipped (counted).
        stop_sending = start + seconds * 1.5
        for unit in units:
            delay = start + unit.offset - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() > stop_sending:
                skipped += len(unit.events) or 3
                continue
            if unit.closing:
                unit.events, dues[unit.incident] = closing_events(unit.incident)
            sent_per_incident[unit.incident] += len(unit.events)
            if unit.incident not in poller.expected:
                poller.expect(unit.incident, expected[unit.incident])
            await in_flight.acquire()
            task = asyncio.create_task(send(unit))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*list(tasks))
        for incident, count in sent_per_incident.items():
            poller.expect(incident, count)
    last_accept = max(accepted.values(), default=start)
    achieved = len(accepted) / max(last_accept - start, 1e-9)

    machine_share = MachineClock.now(system).others_since(clock0)
    # Everything should land within a few seconds; a system that cannot keep up gets a bounded wait.
    wait = max(30.0, seconds * 3)
    deadline = time.perf_counter() + wait
    want_decisions = len(declared_at)
    want_escalations = len(dues)
    while time.perf_counter() < deadline:
        got_reviewed = sum(1 for e in accepted if e in poller.reviewed)
        got_escalations = {
            e["incident_id"]
            for e in observer.escalations
            if e.get("kind") == "after_action_not_scheduled" and e.get("level") == 1
        }
        if (
            len(observer.first_decision.keys() & declared_at.keys()) >= want_decisions
            and got_reviewed >= len(accepted)
            and len(got_escalations) >= want_escalations
        ):
            break
        await asyncio.sleep(0.1)
    # Escalations are due up to ESCALATION_LEAD_SECONDS after the last POST: they are waited for above.
    observer.halt.set()
    poller.halt.set()
    await asyncio.to_thread(observer.join, 10)
    await asyncio.to_thread(poller.join, 10)
    if poller.error is not None:
        raise poller.error
    decision_ms = [
        (observer.first_decision[i] - t) * 1000
        for i, t in declared_at.items()
        if i in observer.first_decision
    ]
    decision_from_post_ms = [
        (observer.first_decision[i] - t) * 1000
        for i, t in declared_sent.items()
        if i in observer.first_decision
    ]
    recorded_ms = [(poller.recorded[e] - t) * 1000 for e, t in accepted.items() if e in poller.recorded]
    reviewed_ms = [(poller.reviewed[e] - t) * 1000 for e, t in accepted.items() if e in poller.reviewed]
    escalation_ms, fired_ms = [], []
    for esc in observer.escalations:
        if esc.get("kind") != "after_action_not_scheduled" or esc.get("level") != 1:
            continue
        due = datetime.fromisoformat(esc["due_at"].replace("Z", "+00:00")).timestamp()
        escalation_ms.append((esc["_received"] - due) * 1000)
        fired = datetime.fromisoformat(esc["fired_at"].replace("Z", "+00:00")).timestamp()
        fired_ms.append((fired - due) * 1000)
    return Latency(
        rate=rate,
        seconds=seconds,
        achieved_rate=achieved,
        requests=len(post_ms),
        errors=errors,
        skipped=skipped,
        post_ms=post_ms,
        decision_ms=decision_ms,
        decision_from_post_ms=decision_from_post_ms,
        decisions_expected=want_decisions,
        recorded_ms=recorded_ms,
        reviewed_ms=reviewed_ms,
        events_accepted=len(accepted),
        escalation_ms=escalation_ms,
        fired_ms=fired_ms,
        escalations_expected=want_escalations,
        client_cpu_s=client_cpu_seconds() - client0,
        machine=machine_share,
    )
