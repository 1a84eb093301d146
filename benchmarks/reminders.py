"""Reminders' scheduler: escalation lateness under load, and how its CPU and memory grow with the
number of pending obligations.

Reminders runs as it does in production, ``python -m majorops.reminders`` in its own process, so its
CPU time and memory (``/proc/<pid>``) are its own and not this benchmark's. It runs against a private
nats-server: on the shared one its durable consumers would first work through every event the other
benchmarks published, and that would blur the figures.

Obligations are ``vendor_rca_overdue`` rows (a vendor committed an RCA date; no heads-up is attached
to them, so only escalations are published), ten per incident. The pending load is seeded straight
into reminders' SQLite store (seeding 100,000 obligations through JetStream would take minutes and
measure ingestion, not the scheduler); reminders plans it at start, as after an upgrade. Obligations
that come due during a measurement arrive as events through JetStream, the way they do live.

Lateness is ``fired_at − due_at`` (the escalation's own fields, CONTRACT §4), and, as subscribers see
it, the JetStream timestamp of the stored message minus ``due_at``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from benchmarks.harness import BenchContext, Result, summary
from majorops.cli.natsserver import NatsServer, free_port
from majorops.reminders.adapters.sqlite import SqliteRemindersStore
from majorops.shared import subjects
from majorops.shared.events import validate_event
from majorops.shared.jetstream import ensure_streams
from majorops.shared.storage.eventlog import StoredEvent, sortable_utc

PER_INCIDENT = 10
INTERVAL = "PT1H"  # levels 2 and 3 stay out of every measurement window
FAR = timedelta(days=1)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _rca_committed(incident: str, vendor: int, due: datetime, at: datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{incident}-v{vendor}",
        "source": "bench",
        "type": "majorops.vendor.rca_committed",
        "time": _iso(at),
        "subject": incident,
        "data": {"vendor": f"vendor-{vendor}", "due": _iso(due)},
    }


async def seed(path: Path, prefix: str, count: int, due_of: Any) -> None:
    """``count`` pending obligations of incidents ``<prefix>-<n>``, written in one transaction.

    ``due_of(n)`` gives the due time of obligation ``n``.
    """
    store = SqliteRemindersStore(path)
    await store.open()
    at = datetime.now(UTC) - timedelta(hours=1)
    rows = []
    for n in range(count):
        incident = f"{prefix}-{n // PER_INCIDENT}"
        body = _rca_committed(incident, n % PER_INCIDENT, due_of(n), at)
        if n == 0:
            validate_event(body)  # the shape is right, so that planning reads every seeded event
        event = StoredEvent(body["id"], incident, body["type"], sortable_utc(at), n + 1, body)
        rows.append(
            (
                event.event_id,
                event.incident_id,
                event.type,
                event.time_utc,
                event.arrival,
                event.envelope_json(),
            )
        )
    conn = store.database.conn
    await conn.execute("BEGIN")
    await conn.executemany(
        "INSERT INTO events (event_id, incident_id, type, time_utc, arrival, envelope) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    await conn.execute("COMMIT")
    await store.close()


@dataclass
class ReminderProcess:
    """One reminders process and what ``/proc`` says about it."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, nats_url: str, data_dir: Path) -> ReminderProcess:
        env = {
            **os.environ,
            "MAJOROPS_NATS_URL": nats_url,
            "MAJOROPS_DATA_DIR": str(data_dir),
            "MAJOROPS_MONGODB_URL": "",
            "MAJOROPS_ESCALATION_INTERVAL": INTERVAL,
            "MAJOROPS_LOG_LEVEL": "INFO",
            "MAJOROPS_REMINDERS_HTTP_PORT": "0",  # no probes: the default port may be taken
        }
        log_path = data_dir / "reminders.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "majorops.reminders"], env=env, stdout=log_file, stderr=log_file
            )
        return cls(process, log_path)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def memory_mib(self) -> dict[str, float]:
        """Resident memory now (VmRSS) and its high-water mark (VmHWM)."""
        out = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = round(int(value.split()[0]) / 1024, 1)
        return out

    async def started(self) -> None:
        while '"reminders.started"' not in self.log_path.read_text():
            if self.process.poll() is not None:
                raise RuntimeError(f"reminders exited: {self.log_path.read_text()[-2000:]}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(self.process.wait, 30)


async def planned(path: Path, pending: int, timeout: float = 600.0) -> float:
    """Wait until reminders has planned ``pending`` obligations; the seconds it took."""
    store = SqliteRemindersStore(path)
    await store.open()
    began = time.perf_counter()
    try:
        while await store.pending_obligations() < pending:
            if time.perf_counter() - began > timeout:
                raise TimeoutError(f"reminders did not plan {pending} obligations in {timeout} s")
            await asyncio.sleep(0.05)
    finally:
        await store.close()
    return time.perf_counter() - began


async def consumed(js: JetStreamContext, timeout: float = 120.0) -> float:
    """Wait until reminders stored every event published so far; the seconds it took."""
    durable = subjects.durable_name("reminders", subjects.EVENTS_STREAM)
    began = time.perf_counter()
    while True:
        info = await js.consumer_info(subjects.EVENTS_STREAM, durable)
        if not info.num_pending and not info.num_ack_pending:
            return time.perf_counter() - began
        if time.perf_counter() - began > timeout:
            raise TimeoutError("reminders did not store the events in time")
        await asyncio.sleep(0.05)


async def publish_coming_due(
    js: JetStreamContext, prefix: str, count: int, first: datetime, window: float
) -> None:
    """``count`` obligations, as events through JetStream, due evenly over ``window`` seconds."""
    at = datetime.now(UTC)
    acks = []
    for n in range(count):
        body = _rca_committed(
            f"{prefix}-{n // PER_INCIDENT}",
            n % PER_INCIDENT,
            first + timedelta(seconds=window * n / count),
            at,
        )
        acks.append(
            await js.publish_async(
                subjects.event_subject(body["subject"], body["type"]),
                json.dumps(body).encode(),
                headers={"Nats-Msg-Id": body["id"]},
            )
        )
    await asyncio.gather(*acks)


async def lateness(
    js: JetStreamContext, prefix: str, expected: int, timeout: float
) -> dict[str, list[float]]:
    """Read the escalations of incidents ``<prefix>-*``: (fired_at − due_at), (stored − due_at) in ms."""
    sub = await js.pull_subscribe(
        subjects.ALL_ESCALATIONS,
        stream=subjects.ESCALATIONS_STREAM,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=30
        ),
    )
    fired: list[float] = []
    stored: list[float] = []
    ids: set[str] = set()
    deadline = time.perf_counter() + timeout
    try:
        while len(ids) < expected and time.perf_counter() < deadline:
            try:
                batch = await sub.fetch(1000, timeout=1.0)
            except TimeoutError:
                continue
            for msg in batch:
                body = json.loads(msg.data)
                if not body["incident_id"].startswith(f"{prefix}-") or body["escalation_id"] in ids:
                    continue
                ids.add(body["escalation_id"])
                due = datetime.fromisoformat(body["due_at"].replace("Z", "+00:00"))
                fired_at = datetime.fromisoformat(body["fired_at"].replace("Z", "+00:00"))
                fired.append((fired_at - due).total_seconds() * 1000)
                stored.append((msg.metadata.timestamp - due).total_seconds() * 1000)
    finally:
        await sub.unsubscribe()
    if len(ids) < expected:
        raise RuntimeError(f"only {len(ids)} of {expected} escalations of {prefix} within {timeout} s")
    return {"fired": fired, "stored": stored}


def lateness_results(label: str, measured: dict[str, list[float]], detail: dict[str, Any]) -> list[Result]:
    fired, stored = summary(measured["fired"]), summary(measured["stored"])
    extra = {**detail, "n": int(fired["n"]), "max_ms": round(fired["max"], 1)}
    return [
        Result(f"{label}: fired_at - due_at p50", fired["p50"], "ms", extra),
        Result(f"{label}: fired_at - due_at p99", fired["p99"], "ms", extra),
        Result(f"{label}: in stream - due_at p99", stored["p99"], "ms", {"max_ms": round(stored["max"], 1)}),
    ]


async def scenario_trickle(
    ctx: BenchContext, js: JetStreamContext, url: str, pending: int, due: int
) -> list[Result]:
    """``pending`` obligations in the store; ``due`` of them arrive and come due over 10 s."""
    data_dir = ctx.scratch / "trickle"
    path = data_dir / "reminders.sqlite3"
    far = datetime.now(UTC) + FAR
    await seed(path, "LOAD", pending - due, lambda n: far + timedelta(seconds=n))
    proc = ReminderProcess.start(url, data_dir)
    try:
        await proc.started()
        plan_s = await planned(path, pending - due)
        window = 10.0
        # The events land first (reminders stores and plans them), then they come due one by one.
        first = datetime.now(UTC) + timedelta(seconds=2 + due / 250)
        await publish_coming_due(js, "TRICKLE", due, first, window)
        ingest_s = await consumed(js)
        if datetime.now(UTC) > first:
            raise RuntimeError("the obligations came due before reminders had stored them: raise the lead")
        measured = await lateness(js, "TRICKLE", due, timeout=window + 30)
    finally:
        await proc.stop()
    rate = due / window
    return lateness_results(
        f"lateness, {pending:,} pending, {due:,} due over {window:.0f} s",
        measured,
        {
            "rate_per_s": rate,
            "planned_at_start_s": round(plan_s, 2),
            "events_stored_in_s": round(ingest_s, 2),
        },
    )


async def scenario_burst(
    ctx: BenchContext, url: str, js: JetStreamContext, pending: int, window: float
) -> list[Result]:
    """``pending`` obligations in the store, every one of them coming due within ``window`` seconds."""
    data_dir = ctx.scratch / "burst"
    path = data_dir / "reminders.sqlite3"
    # Start-up planning must be over before the first one is due: a generous lead, checked below.
    lead = 4.0 + pending / 2_000
    first = datetime.now(UTC) + timedelta(seconds=lead)
    await seed(path, "BURST", pending, lambda n: first + timedelta(seconds=window * n / pending))
    proc = ReminderProcess.start(url, data_dir)
    try:
        await proc.started()
        await planned(path, pending)
        spare = (first - datetime.now(UTC)).total_seconds()
        if spare < 0:
            raise RuntimeError(f"start-up planning ran {-spare:.1f} s into the window: raise the lead")
        measured = await lateness(js, "BURST", pending, timeout=lead + window + 60)
    finally:
        await proc.stop()
    return lateness_results(
        f"lateness, {pending:,} pending all due within {window:.0f} s",
        measured,
        {"rate_per_s": round(pending / window)},
    )


async def scenario_growth(ctx: BenchContext, url: str, js: JetStreamContext, pending: int) -> list[Result]:
    """The scheduler with ``pending`` obligations: start-up planning, idling, and a probe coming due.

    CPU time is read from ``/proc`` in clock ticks (10 ms): idle figures are ±1 tick over the window.
    """
    idle_s = 3.0 if ctx.quick else 10.0
    data_dir = ctx.scratch / f"growth-{pending}"
    path = data_dir / "reminders.sqlite3"
    far = datetime.now(UTC) + FAR
    await seed(path, f"G{pending}", pending, lambda n: far + timedelta(seconds=n % 86_400))
    proc = ReminderProcess.start(url, data_dir)
    try:
        await proc.started()
        began_cpu = proc.cpu_seconds()
        plan_s = await planned(path, pending)
        plan_cpu = proc.cpu_seconds() - began_cpu
        after_plan = proc.memory_mib()

        await asyncio.sleep(1.0)
        idle_began = proc.cpu_seconds()
        await asyncio.sleep(idle_s)
        idle_cpu_ms = (proc.cpu_seconds() - idle_began) * 1000 / idle_s

        probe, window = 200, 4.0
        probe_began = proc.cpu_seconds()
        await publish_coming_due(js, f"P{pending}", probe, datetime.now(UTC) + timedelta(seconds=1.5), window)
        measured = await lateness(js, f"P{pending}", probe, timeout=window + 30)
        probe_cpu_ms = (proc.cpu_seconds() - probe_began) * 1000 / probe
        memory = proc.memory_mib()
    finally:
        await proc.stop()
    fired = summary(measured["fired"])
    label = f"{pending:,} pending"
    return [
        Result(f"{label}: start-up planning", plan_s, "s", {"cpu_s": round(plan_cpu, 2)}),
        Result(f"{label}: idle CPU, nothing due", idle_cpu_ms, "ms/s", {"window_s": idle_s}),
        Result(
            f"{label}: CPU per obligation coming due (stored, planned, fired)",
            probe_cpu_ms,
            "ms",
            {
                "probe": probe,
                "lateness_p50_ms": round(fired["p50"], 1),
                "lateness_p99_ms": round(fired["p99"], 1),
            },
        ),
        Result(
            f"{label}: resident memory",
            memory["VmRSS"],
            "MiB",
            {"after_planning": after_plan, "peak": memory["VmHWM"]},
        ),
    ]


async def run(ctx: BenchContext) -> list[Result]:
    # A private nats-server: see the module docstring.
    server = NatsServer(data_dir=ctx.scratch / "nats", port=free_port(), log_file=ctx.scratch / "nats.log")
    server.start()
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        results: list[Result] = []
        if ctx.quick:
            results += await scenario_trickle(ctx, js, server.url, pending=2_000, due=300)
            results += await scenario_burst(ctx, server.url, js, pending=2_000, window=5.0)
            sizes = (1_000, 5_000, 20_000)
        else:
            results += await scenario_trickle(ctx, js, server.url, pending=10_000, due=1_000)
            results += await scenario_burst(ctx, server.url, js, pending=10_000, window=10.0)
            sizes = (1_000, 10_000, 100_000)
        for pending in sizes:
            results += await scenario_growth(ctx, server.url, js, pending)
        return results
    finally:
        await nc.drain()
        server.stop()
