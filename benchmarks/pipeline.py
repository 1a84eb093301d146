"""End to end: the whole pipeline of ``majorops up`` against raw JetStream, measured in the same run.

``python -m benchmarks pipeline [--quick] [--long]`` starts its own nats-servers and systems (it
ignores the shared server of the other modules) and writes ``bench-results/pipeline.json`` and
``bench-results/pipeline.md``.

Two server settings, each with its in-run baseline:

- **A, ``sync_interval: always``** — exactly what ``majorops up`` runs: the real CLI
  (``majorops up --data-dir … --nats-port … --ingest-port … --reports-port …``) in a subprocess,
  its embedded nats-server, four service processes. The raw baseline runs on that same embedded
  server before any load.
- **B, the nats-server default sync** (no ``sync_interval`` line): ``majorops up`` has no flag for
  that, so the benchmark starts the nats-server itself (:class:`NatsServer` with
  ``sync_interval=None``) and points ``majorops up`` at it with ``MAJOROPS_NATS_URL``.

Baselines (nats-py, nothing of ours): pipelined ``js.publish_async`` of ~300-byte CloudEvents-shaped
JSON with ``Nats-Msg-Id`` to a file stream configured like ours, every PubAck awaited; and a durable
pull consumer fetching batches and acking each message.

Phases on A (B runs the baselines and the sustained phases only):

1. sustained HTTP ingest: POST /v1/events, batches of 100, 4 concurrent clients; events of 25
   incidents interleaved per window (20 events per incident: alert, declaration P1/P2, role,
   14 timeline entries, mitigated, resolved, closed). Accept rate = events ÷ (first POST → last 202).
   Accepted → review = first POST → every review of the phase holds all its events.
2. the same through NATS requests to ``majorops.ingest`` (4 concurrent requesters).
3. an fsync census (strace on nats-server and the four services while a small batch flows).
4. latency at fixed rates (open loop, one event per POST): accepted → first decision (core NATS
   subscription on ``majorops.decisions.>``), accepted → recorded / in the materialised review,
   due → escalation (closed incidents backdated so ``schedule_by`` falls a few seconds ahead).
5. memory over a long run (RSS sampled per service; ``--long``: up to 1,000,000 events).
6. one incident of 10 … 10,000 events: per-event cost (last: the largest may outlast its bounded wait).

"Reflected in the review" is read from reports' SQLite file, read-only (no request perturbs
reports): the ``events`` table (recorded: from then on a GET, which assembles a stale review on
read, shows the event) and the ``reviews`` table (the materialised document's ``timeline``). After
each sustained phase every review is also fetched with GET /v1/reviews/<id> and its timeline
length checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from benchmarks.harness import BenchContext, Result, percentile
from majorops.cli.credentials import FILE_NAME as CREDENTIALS_FILE
from majorops.cli.credentials import nats_password_key, read_env_file
from majorops.cli.natsserver import NatsServer, die_with_parent, free_port, nats_server_binary
from majorops.shared import subjects
from majorops.shared.consumers import DEFAULT_BATCH_SIZE
from majorops.shared.jetstream import DUPLICATE_WINDOW_SECONDS
from majorops.shared.testing import INGEST_TOKEN, READ_TOKEN, TOKEN_SETTINGS, bearer, processes_of, up_command
from majorops.shared.testkit import UpPlaces

OWN_SERVERS = True
"""The harness starts no shared server for this module: it starts its own (see the docstring)."""

SERVICES = ("ingest", "policy", "reminders", "reports")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
BATCH = 100
CLIENTS = 4
PER_INCIDENT = 20
INTERLEAVE = 25
KV_STREAM = f"KV_{subjects.INGEST_SEEN_BUCKET}"
STREAMS = (
    subjects.EVENTS_STREAM,
    KV_STREAM,
    subjects.DECISIONS_STREAM,
    subjects.ESCALATIONS_STREAM,
    subjects.DEADLETTER_STREAM,
)
WRITER = {
    subjects.EVENTS_STREAM: "ingest",
    KV_STREAM: "ingest",
    subjects.DECISIONS_STREAM: "policy",
    subjects.ESCALATIONS_STREAM: "reminders",
    subjects.DEADLETTER_STREAM: "any (dead letters)",
}
RAW_STREAM = "BENCH_RAW"
RAW_SUBJECTS = "bench.raw.>"
SERVICE_FETCH_BATCH = DEFAULT_BATCH_SIZE  # what the services' durable consumers fetch per round
ESCALATION_LEAD_SECONDS = 6
CLOSING_EVERY = 4  # every 4th incident of the latency phase is closed, backdated, and escalates
LONG_EVENTS = 1_000_000
LONG_BUDGET_SECONDS = 40 * 60.0
SIZE_WAIT_SECONDS = 180.0  # the longest wait for one incident's review (the 10,000-event one)
MEMORY_WINDOW = 3_000  # events the producer may be ahead of the slowest consumer in the memory run


@dataclass(frozen=True)
class Plan:
    baseline_msgs: int
    sustained_incidents: int
    census_incidents: int
    rates: tuple[int, ...]
    latency_seconds: float
    incident_sizes: tuple[int, ...]
    memory_events: int
    memory_budget_seconds: float


def plan_for(ctx: BenchContext) -> Plan:
    if ctx.quick:
        return Plan(5_000, 100, 10, (100, 500), 5.0, (10, 100, 1_000), 4_000, 90.0)
    return Plan(
        20_000,
        500,
        50,
        (100, 500),
        20.0,
        (10, 100, 1_000, 10_000),
        LONG_EVENTS if ctx.long else 50_000,
        LONG_BUDGET_SECONDS if ctx.long else 300.0,
    )


# --- events -------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def envelope(incident: str, n: int, kind: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{incident}-{n}",
        "source": "bench/pipeline",
        "type": f"majorops.{kind}",
        "time": iso(at),
        "subject": incident,
        "datacontenttype": "application/json",
        "data": data,
    }


def incident_events(incident: str, index: int, now: datetime) -> list[dict[str, Any]]:
    """A closed incident of 20 events, an hour or two ago: alert, declaration (P1 one in three, else
    P2), MIM assigned, 14 timeline entries, mitigated, resolved, closed. ``schedule_by`` (closed +
    24 h) is in the future, so nothing escalates during the run."""
    start = now - timedelta(hours=2, seconds=index % 600)
    severity = "P1" if index % 3 == 0 else "P2"
    kinds: list[tuple[str, dict[str, Any]]] = [
        (
            "alert.fired",
            {"alert_name": "CheckoutLatencyHigh", "service": "checkout", "customer_count": index % 5},
        ),
        ("incident.declared", {"title": f"Checkout latency {index}", "severity": severity}),
        ("role.assigned", {"role": "mim", "person": "Dana Reyes"}),
    ]
    kinds += [
        (
            "timeline.logged",
            {"text": f"step {k}: checked the pool, restarted replica {k % 3}", "by": "@oncall"},
        )
        for k in range(PER_INCIDENT - 6)
    ]
    kinds += [("incident.mitigated", {}), ("incident.resolved", {}), ("incident.closed", {})]
    return [
        envelope(incident, n, kind, start + timedelta(minutes=3 * n), data)
        for n, (kind, data) in enumerate(kinds)
    ]


def interleaved(tag: str, incidents: int, now: datetime, first: int = 0) -> list[dict[str, Any]]:
    """Events of ``incidents`` incidents, ``INTERLEAVE`` incidents open at a time, round robin."""
    out: list[dict[str, Any]] = []
    for window in range(first, first + incidents, INTERLEAVE):
        histories = [
            incident_events(incident_id(tag, i), i, now)
            for i in range(window, min(window + INTERLEAVE, first + incidents))
        ]
        for n in range(PER_INCIDENT):
            out.extend(history[n] for history in histories)
    return out


def incident_id(tag: str, index: int) -> str:
    return f"{tag}-{index:07d}"


def big_incident(incident: str, size: int, now: datetime) -> list[dict[str, Any]]:
    """One incident of ``size`` events: the facts that matter first, notes and status posts, its end last."""
    head: list[tuple[str, dict[str, Any]]] = [
        ("alert.fired", {"alert_name": "CheckoutLatencyHigh", "service": "checkout", "customer_count": 40}),
        ("incident.declared", {"title": "Checkout latency", "severity": "P2"}),
        ("role.assigned", {"role": "mim", "person": "Dana Reyes"}),
    ]
    tail: list[tuple[str, dict[str, Any]]] = [
        ("incident.mitigated", {}),
        ("incident.resolved", {}),
        ("incident.closed", {}),
    ]
    body: list[tuple[str, dict[str, Any]]] = []
    for k in range(max(size - len(head) - len(tail), 0)):
        if k % 10 == 5:
            body.append(("status.posted", {"audience": "internal", "text": f"update {k}"}))
        elif k % 50 == 17:
            body.append(("role.assigned", {"role": "sme", "person": f"@sme{k}"}))
        else:
            body.append(("timeline.logged", {"text": f"step {k}: looked at the pool", "by": "@oncall"}))
    kinds = (head + body + tail)[:size]
    start = now - timedelta(hours=1, seconds=size)
    return [
        envelope(incident, n, kind, start + timedelta(seconds=n), data)
        for n, (kind, data) in enumerate(kinds)
    ]


def batches(events: list[dict[str, Any]], size: int = BATCH) -> list[list[dict[str, Any]]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


# --- processes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStat:
    cpu_s: float
    rss_mib: float
    hwm_mib: float
    write_bytes: int
    syscw: int


def proc_stat(pid: int) -> ProcStat | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
        io = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return None
    mem = {}
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            mem[name] = int(value.split()[0]) / 1024
    counters = {}
    for line in io.splitlines():
        name, _, value = line.partition(":")
        counters[name] = int(value)
    return ProcStat(
        (int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
        mem.get("VmRSS", 0.0),
        mem.get("VmHWM", 0.0),
        counters.get("write_bytes", 0),
        counters.get("syscw", 0),
    )


def children_of(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


@dataclass
class UpSystem(UpPlaces):
    """``majorops up`` as a user runs it, in a subprocess, on free ports in a scratch data dir."""

    nats_url: str | None = None  # an external nats-server (variant B); None: the embedded one
    external: NatsServer | None = None
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.nats_url or f"nats://127.0.0.1:{self.nats_port}"

    @property
    def reports_db(self) -> Path:
        return self.data_dir / "reports.sqlite3"

    def nats_auth(self) -> dict[str, str]:
        """How a benchmark client connects: as ``admin`` to the embedded server, whose users
        ``majorops up`` generated into the data dir; as nobody to an external server without users."""
        if self.nats_url:
            return {}
        stored = read_env_file(self.data_dir / CREDENTIALS_FILE)
        return {"user": "admin", "password": stored[nats_password_key("admin")]}

    def monitor_url(self) -> str | None:
        if self.external is not None:
            return f"http://127.0.0.1:{self.external.monitor_port}"
        conf = self.data_dir / "nats-server.conf"
        match = re.search(r"^http_port:\s*(\d+)", conf.read_text(), re.MULTILINE) if conf.exists() else None
        return f"http://127.0.0.1:{match.group(1)}" if match else None

    def start(self, timeout: float = 90.0) -> float:
        """Start and wait for the "ready" line; the seconds it took."""
        began = time.monotonic()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAJOROPS_")}
        env.update({f"MAJOROPS_{name.upper()}": value for name, value in TOKEN_SETTINGS.items()})
        if self.nats_url:
            env["MAJOROPS_NATS_URL"] = self.nats_url
        self.process = subprocess.Popen(
            up_command(self.data_dir, self.nats_port, self.ingest_port, self.reports_port),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        ready = threading.Event()

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                if line.startswith("ready"):
                    ready.set()

        self._reader = threading.Thread(target=read, name="majorops-up-output", daemon=True)
        self._reader.start()
        while not ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() - began > timeout:
                raise RuntimeError(
                    "majorops up did not get ready:\n" + "".join(self.output) + self.logs(tail=2000)
                )
        return time.monotonic() - began

    def pids(self) -> dict[str, int]:
        """Service name (and ``nats-server``) → pid, from the supervisor's children."""
        assert self.process is not None
        out: dict[str, int] = {}
        for child in children_of(self.process.pid):
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            for name in SERVICES:
                if f"-m majorops.{name}" in cmdline:
                    out[name] = child
            if "nats-server" in cmdline:
                out["nats-server"] = child
        if self.external is not None and self.external.process is not None:
            out["nats-server"] = self.external.process.pid
        return out

    def snapshot(self) -> dict[str, ProcStat]:
        """Each process of the system, and the supervisor itself (``majorops up``)."""
        out = {}
        pids = self.pids()
        if self.process is not None:
            pids["supervisor"] = self.process.pid
        for name, pid in pids.items():
            stat = proc_stat(pid)
            if stat is not None:
                out[name] = stat
        return out

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for pid in processes_of(self.data_dir):  # only what was started for this scratch dir
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class MachineClock:
    """Machine-wide CPU time (/proc/stat) next to ours, to tell what other processes took meanwhile."""

    at: float
    busy_s: float  # user + nice + system + irq + softirq, every core
    steal_s: float
    ours_s: float  # the system's processes and this client

    @classmethod
    def now(cls, system: UpSystem) -> MachineClock:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        user, nice, sys_, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        ours = sum(stat.cpu_s for stat in system.snapshot().values()) + client_cpu_seconds()
        return cls(
            time.perf_counter(),
            (user + nice + sys_ + irq + softirq) / CLOCK_TICKS,
            steal / CLOCK_TICKS,
            ours,
        )

    def others_since(self, earlier: MachineClock) -> dict[str, float]:
        """Shares of the machine's capacity (cores × elapsed) over the interval: others, steal, ours."""
        capacity = max((self.at - earlier.at) * (os.cpu_count() or 1), 1e-9)
        ours = self.ours_s - earlier.ours_s
        others = max(self.busy_s - earlier.busy_s - ours, 0.0)
        return {
            "others": others / capacity,
            "steal": (self.steal_s - earlier.steal_s) / capacity,
            "ours": ours / capacity,
        }


# --- observing the system -----------------------------------------------------------------------


class ReportsDb:
    """Reports' SQLite file, read-only (WAL: readers never block its writer)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, timeout=10, check_same_thread=False
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @staticmethod
    def _range(tag: str) -> tuple[str, str]:
        return f"{tag}-", f"{tag}."  # '.' sorts right after '-': the ids of one tag, with the index

    def recorded(self, tag: str) -> int:
        row = (
            self.conn()
            .execute(
                "SELECT count(*) FROM events WHERE incident_id >= ? AND incident_id < ?", self._range(tag)
            )
            .fetchone()
        )
        return int(row[0])

    def complete_reviews(self, tag: str, per_incident: int) -> int:
        """Reviews of the tag whose materialised document holds ``per_incident`` timeline entries."""
        row = (
            self.conn()
            .execute(
                "SELECT count(*) FROM reviews WHERE incident_id >= ? AND incident_id < ? "
                "AND document IS NOT NULL AND json_array_length(document, '$.timeline') >= ?",
                (*self._range(tag), per_incident),
            )
            .fetchone()
        )
        return int(row[0])

    def timeline_length(self, incident: str) -> int:
        row = (
            self.conn()
            .execute(
                "SELECT json_array_length(document, '$.timeline') FROM reviews WHERE incident_id = ?",
                (incident,),
            )
            .fetchone()
        )
        return int(row[0]) if row and row[0] is not None else 0

    def max_rowid(self) -> int:
        row = self.conn().execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()
        return int(row[0])

    def events_after(self, rowid: int, limit: int = 5_000) -> list[tuple[int, str]]:
        return [
            (int(r[0]), str(r[1]))
            for r in self.conn().execute(
                "SELECT rowid, event_id FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?", (rowid, limit)
            )
        ]

    def timeline_ids(self, incidents: list[str]) -> list[tuple[str, str]]:
        if not incidents:
            return []
        marks = ",".join("?" * len(incidents))
        return [
            (str(r[0]), str(r[1]))
            for r in self.conn().execute(
                "SELECT r.incident_id, json_extract(j.value, '$.event_id') FROM reviews r, "  # noqa: S608
                f"json_each(r.document, '$.timeline') j WHERE r.incident_id IN ({marks}) "
                "AND r.document IS NOT NULL",
                incidents,
            )
        ]


async def stream_state(js: JetStreamContext) -> dict[str, dict[str, int]]:
    out = {}
    for name in STREAMS:
        try:
            info = await js.stream_info(name)
        except NotFoundError:  # the dead-letter stream, before anything failed
            continue
        out[name] = {
            "last_seq": int(info.state.last_seq or 0),
            "messages": int(info.state.messages or 0),
            "bytes": int(info.state.bytes or 0),
        }
    return out


async def consumer_state(js: JetStreamContext) -> dict[str, dict[str, int]]:
    out = {}
    for stream in STREAMS:
        try:
            infos = await js.consumers_info(stream)
        except NotFoundError:
            continue
        for info in infos:
            out[f"{stream}/{info.name}"] = {
                "pending": int(info.num_pending or 0),
                "ack_pending": int(info.num_ack_pending or 0),
                "ack_floor": int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0,
                "redelivered": int(info.num_redelivered or 0),
            }
    return out


async def backlog(js: JetStreamContext) -> int:
    """Messages some service has not acknowledged yet, over every durable consumer."""
    return sum(c["pending"] + c["ack_pending"] for c in (await consumer_state(js)).values())


async def slowest_backlog(js: JetStreamContext) -> int:
    """Messages the slowest durable consumer has not acknowledged yet."""
    return max((c["pending"] + c["ack_pending"] for c in (await consumer_state(js)).values()), default=0)


async def jsz(monitor: str | None) -> dict[str, Any]:
    if monitor is None:
        return {}
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            body: dict[str, Any] = (await http.get(f"{monitor}/jsz")).json()
            return body
    except (httpx.HTTPError, ValueError):
        return {}


async def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.1) -> tuple[bool, float]:
    """Poll ``check`` (a coroutine function) until truthy; (met, perf_counter when met or gave up)."""
    deadline = time.perf_counter() + timeout
    while True:
        if await check():
            return True, time.perf_counter()
        if time.perf_counter() > deadline:
            return False, time.perf_counter()
        await asyncio.sleep(interval)


# --- baselines ----------------------------------------------------------------------------------


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


# --- sustained throughput -----------------------------------------------------------------------


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


# --- fsync census -------------------------------------------------------------------------------

FSYNC_PATH = re.compile(r"f(?:data)?sync\(\d+<([^>]*)>\)")


def classify_fsync(path: str) -> str:
    """What an fsync'd file is: a stream's messages, a consumer's state, a service's SQLite, …"""
    match = re.search(r"/streams/([^/]+)(/.*)?$", path)
    if match:
        stream, rest = match.group(1), match.group(2) or ""
        consumer = re.match(r"/obs/([^/]+)", rest)
        if consumer:
            return f"consumer {consumer.group(1)} ({stream})"
        if rest.startswith("/msgs"):
            return f"stream {stream}"
        return f"stream {stream} (metadata)"
    name = Path(path).name
    if ".sqlite3" in name:
        return f"SQLite {name}"
    if name.endswith(".log") or ".log." in name:
        return "log file"
    return "other"


async def fsync_census(system: UpSystem, js: JetStreamContext, incidents: int) -> dict[str, Any]:
    """Attach strace (fsync/fdatasync only) to nats-server and each service while ``incidents`` × 20
    events flow through HTTP; count the fsyncs by file, per accepted event."""
    strace = shutil.which("strace")
    if strace is None:
        return {"skipped": "strace not installed"}
    pids = system.pids()
    traces: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    out_dir = system.data_dir / "strace"
    out_dir.mkdir(exist_ok=True)
    for name, pid in pids.items():
        path = out_dir / f"{name}.trace"
        proc = await asyncio.to_thread(
            subprocess.Popen,
            [strace, "-f", "-y", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(path), "-p", str(pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        traces[name] = (proc, path)
    try:
        await asyncio.sleep(1.5)
        for name, (proc, _path) in traces.items():
            if proc.poll() is not None:
                error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                return {"skipped": f"strace could not attach to {name}: {error.strip()[:200]}"}
        tag = "CENSUS"
        events = interleaved(tag, incidents, datetime.now(UTC))
        await post_batches(system.ingest, batches(events))
        db = ReportsDb(system.reports_db)
        try:
            await wait_until(
                lambda: asyncio.to_thread(lambda: db.complete_reviews(tag, PER_INCIDENT) >= incidents), 120
            )
        finally:
            db.close()

        async def drained() -> bool:
            return await backlog(js) == 0

        await wait_until(drained, 60, 0.2)
        await asyncio.sleep(2.5)  # consumer state and SQLite checkpoints that trail the last message
    finally:
        for proc, _path in traces.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, _path in traces.values():
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                proc.kill()
    counts: dict[str, Counter[str]] = {}
    for name, (_proc, path) in traces.items():
        counter: Counter[str] = Counter()
        with contextlib.suppress(OSError):
            for line in path.read_text(errors="replace").splitlines():
                match = FSYNC_PATH.search(line)
                if match:
                    counter[classify_fsync(match.group(1))] += 1
        counts[name] = counter
    total = incidents * PER_INCIDENT
    return {
        "events": total,
        "per_event": {n: {k: v / total for k, v in c.items()} for n, c in counts.items()},
    }


# --- latency at fixed rates ---------------------------------------------------------------------


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


IN_FLIGHT = 128


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, for the latency phase.

    The sender shares the machine's cores with the system it measures: httpx costs ~1.3 ms of CPU
    per request here, this about a tenth of that, so that at 500 requests/s the client does not eat
    the CPU the services need. One connection per request in flight, reused.
    """

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.all: list[asyncio.StreamWriter] = []
        self.slots = asyncio.Semaphore(size)

    async def __aenter__(self) -> RawHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self.all:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def post(self, path: str, body: bytes) -> int:
        """POST a JSON body; the status code (the response body is read and dropped).

        uvicorn closes a keep-alive connection after 5 s idle: idle connections older than 2 s are
        dropped, and a request whose reused connection turns out closed is sent once more on a new one.
        """
        async with self.slots:
            while self.idle:
                reader, writer, since = self.idle.pop()
                if time.monotonic() - since < 2.0 and not reader.at_eof():
                    try:
                        return await self._exchange(reader, writer, path, body)
                    except (ConnectionError, asyncio.IncompleteReadError, IndexError):
                        continue  # closed by the server meanwhile: nothing was processed
                writer.close()
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.all.append(writer)
            return await self._exchange(reader, writer, path, body)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
    ) -> int:
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
                f"authorization: Bearer {INGEST_TOKEN}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            status = int((await reader.readline()).split()[1])
            length, keep = 0, True
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    keep = False
            await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if keep:
            self.idle.append((reader, writer, time.monotonic()))
        else:
            writer.close()
        return status


@dataclass
class Unit:
    """One POST of the latency phase: when it is due (s after the start), its events, its incident."""

    offset: float
    events: list[dict[str, Any]]
    incident: str
    declared: bool = False
    closing: bool = False


def latency_units(tag: str, rate: int, seconds: float) -> tuple[list[Unit], dict[str, int]]:
    """Open-loop schedule at ``rate`` events/s. Most incidents: declared (P1), MIM, two notes — one
    POST each. Every ``CLOSING_EVERY``-th: one POST of [resolved, closed, declared] (critical), with
    ``closed`` backdated so that ``schedule_by`` = closed + 24 h falls a few seconds after sending
    (resolved first, so the MTM obligation is met by the time the declaration is known)."""
    units: list[Unit] = []
    expected: dict[str, int] = {}
    slot, index = 0, 0
    total = int(rate * seconds)
    while slot < total:
        incident = incident_id(tag, index)
        if index % CLOSING_EVERY == CLOSING_EVERY - 1:
            units.append(Unit(slot / rate, [], incident, closing=True))  # events made when sent
            expected[incident] = 3
            slot += 3
        else:
            now = datetime.now(UTC)
            kinds: list[tuple[str, dict[str, Any]]] = [
                ("incident.declared", {"title": f"Latency probe {index}", "severity": "P1"}),
                ("role.assigned", {"role": "mim", "person": "Dana Reyes"}),
                ("timeline.logged", {"text": "paged the database team", "by": "@oncall"}),
                ("timeline.logged", {"text": "failover started", "by": "@dba"}),
            ]
            for n, (kind, data) in enumerate(kinds):
                units.append(
                    Unit(
                        (slot + n) / rate,
                        [envelope(incident, n, kind, now, data)],
                        incident,
                        declared=kind == "incident.declared",
                    )
                )
            expected[incident] = len(kinds)
            slot += len(kinds)
        index += 1
    return units, expected


def closing_events(incident: str) -> tuple[list[dict[str, Any]], float]:
    """[resolved, closed, declared] of a critical incident whose ``schedule_by`` is a few seconds ahead;
    and that due time (epoch seconds)."""
    due = math.ceil(time.time()) + ESCALATION_LEAD_SECONDS
    closed = datetime.fromtimestamp(due, UTC) - timedelta(hours=24)
    return [
        envelope(incident, 1, "incident.resolved", closed - timedelta(minutes=30), {}),
        envelope(incident, 2, "incident.closed", closed, {}),
        envelope(
            incident,
            0,
            "incident.declared",
            closed - timedelta(hours=3),
            {"title": "Escalation probe", "severity": "critical"},
        ),
    ], float(due)


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


# --- incident size ------------------------------------------------------------------------------


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


# --- memory over a long run ---------------------------------------------------------------------


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


# --- the whole run ------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    try:
        line = subprocess.run(
            [nats_server_binary(), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
        out["nats-server"] = line.split()[-1] if line else "?"
    except (OSError, subprocess.SubprocessError):
        out["nats-server"] = "?"
    try:
        root = Path(__file__).resolve().parents[1]
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "services", "shared", "cli"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
        if head:
            out["code"] = f"commit {head}" + (f" + {len(dirty)} uncommitted files" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    for dist in ("nats-py", "faststream", "httpx", "uvicorn", "fastapi", "aiosqlite"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[dist] = importlib.metadata.version(dist)
    return out


def machine() -> dict[str, str]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {"cores": str(os.cpu_count()), "cpu": model, "ram": ram, "kernel": platform.release()}


@dataclass
class VariantResult:
    name: str
    baseline: dict[str, float]
    startup_s: float
    sustained: dict[str, Sustained] = field(default_factory=dict)
    census: dict[str, Any] = field(default_factory=dict)
    latencies: list[Latency] = field(default_factory=list)
    sizes: list[SizeRun] = field(default_factory=list)
    memory: MemoryRun | None = None
    hwm: dict[str, float] = field(default_factory=dict)
    restarts: str = ""


def say(text: str) -> None:
    print(f"[pipeline {time.strftime('%H:%M:%S')}] {text}", flush=True)


async def run_variant(ctx: BenchContext, plan: Plan, name: str, full: bool) -> VariantResult:
    root = ctx.scratch / name
    root.mkdir(parents=True, exist_ok=True)
    external: NatsServer | None = None
    if name == "B":
        external = NatsServer(
            data_dir=root / "nats-server",
            port=free_port(),
            monitor_port=free_port(),
            log_file=root / "nats-server.log",
            sync_interval=None,
        )
        await asyncio.to_thread(external.start)
    system = UpSystem(
        data_dir=root / "majorops",
        nats_url=external.url if external is not None else None,
        external=external,
    )
    nc: Client | None = None
    try:
        startup = await asyncio.to_thread(system.start)
        pids0 = system.pids()
        say(
            f"{name}: majorops up ready in {startup:.1f} s ({', '.join(f'{k} {v}' for k, v in pids0.items())})"
        )
        baseline = await raw_baseline(system.url, plan.baseline_msgs, system.nats_auth())
        say(
            f"{name}: raw publish {baseline['publish']:,.0f}/s, consume {baseline['consume_100']:,.0f}/s "
            f"(batch 100), {baseline[f'consume_{SERVICE_FETCH_BATCH}']:,.0f}/s (batch {SERVICE_FETCH_BATCH})"
        )
        result = VariantResult(name, baseline, startup)
        nc = await nats.connect(system.url, **system.nats_auth())
        js = nc.jetstream()
        timeout = 60 + plan.sustained_incidents * PER_INCIDENT / 50
        for via in ("http", "nats"):
            run = await sustained(
                system, js, nc, via, f"S{name}{via.upper()}", plan.sustained_incidents, timeout
            )
            result.sustained[via] = run
            say(
                f"{name}: sustained {via}: accept {run.rate(run.accept_s) or 0:,.0f}/s, review "
                f"{run.rate(run.reviewed_s) or 0:,.0f}/s, drained after {run.drained_s or float('nan'):.1f} s, "
                f"{run.verified}/{run.incidents} reviews verified by GET"
            )
        if full:
            result.census = await fsync_census(system, js, plan.census_incidents)
            say(f"{name}: fsync census done ({result.census.get('skipped', 'ok')})")
            for rate in plan.rates:
                lat = await latency(system, rate, plan.latency_seconds, f"L{name}{rate}")
                result.latencies.append(lat)
                say(
                    f"{name}: latency at {rate}/s (achieved {lat.achieved_rate:,.0f}/s): decision p99 "
                    f"{percentile(lat.decision_ms, 99) if lat.decision_ms else float('nan'):.0f} ms, "
                    f"review p99 {percentile(lat.reviewed_ms, 99) if lat.reviewed_ms else float('nan'):.0f} ms"
                )
            result.memory = await memory_run(system, js, plan.memory_events, plan.memory_budget_seconds)
            say(f"{name}: memory run: {result.memory.events:,} events in {result.memory.seconds:.0f} s")
            # Last: the largest incident may outlast its bounded wait, and then the system stays busy
            # with it; nothing is measured after it.
            for n, size in enumerate(plan.incident_sizes):
                last = n == len(plan.incident_sizes) - 1
                run_size = await incident_size(
                    system, js, size, timeout=min(60 + size / 20, SIZE_WAIT_SECONDS), drain=not last
                )
                result.sizes.append(run_size)
                took = (
                    f"{run_size.seconds:.2f} s"
                    if run_size.seconds
                    else (
                        f"not complete after {run_size.waited_s:.0f} s ({run_size.reached:,} in the review)"
                    )
                )
                say(f"{name}: one incident of {size:,} events: {took}")
        result.hwm = {n: s.hwm_mib for n, s in system.snapshot().items()}
        pids1 = system.pids()
        changed = [k for k in pids0 if pids1.get(k) != pids0[k]]
        result.restarts = ", ".join(changed) if changed else "none"
        return result
    finally:
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()
        await asyncio.to_thread(system.stop)
        if external is not None:
            await asyncio.to_thread(external.stop)


# --- the report ---------------------------------------------------------------------------------

PROCS = ("ingest", "policy", "reminders", "reports", "nats-server")


def fmt_rate(value: float | None) -> str:
    return "not reached" if value is None else f"{value:,.0f} events/s"


def pct(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "—"
    return f"{100 * value / base:.1f} %"


def ms(values: list[float]) -> str:
    if not values:
        return "none"
    return f"{percentile(values, 50):,.0f} / {percentile(values, 99):,.0f} / {max(values):,.0f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


@dataclass
class Goal:
    text: str
    figure: str
    met: bool | None


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def result(self, name: str, value: float | None, unit: str, **detail: Any) -> None:
        if value is not None:
            self.results.append(Result(name, value, unit, detail))


def report_baselines(rep: Report, results: dict[str, VariantResult], plan: Plan) -> None:
    rep.add("## Raw JetStream baseline (nats-py on the same server, same run)", "")
    rows = []
    for key, res in results.items():
        b = res.baseline
        rows.append(
            [
                f"{key}: {'`sync_interval: always`' if key == 'A' else 'default sync'}",
                f"{b['publish']:,.0f} msgs/s",
                f"{b['consume_100']:,.0f} msgs/s",
                f"{b[f'consume_{SERVICE_FETCH_BATCH}']:,.0f} msgs/s",
            ]
        )
        for k, v in b.items():
            rep.result(f"{key} raw {k}", v, "bytes" if k == "payload_bytes" else "msgs/s")
    size = next(iter(results.values())).baseline["payload_bytes"]
    rep.add(
        *table(
            [
                "server",
                "pipelined publish, every PubAck awaited",
                "durable pull consume + ack each, fetch 100",
                f"fetch {SERVICE_FETCH_BATCH} (as the services)",
            ],
            rows,
        ),
        f"{plan.baseline_msgs:,} CloudEvents-shaped JSON messages of ~{size:.0f} bytes with `Nats-Msg-Id`, "
        "a file stream configured like ours (2-minute duplicate window, direct get).",
        "",
    )


def report_sustained(rep: Report, results: dict[str, VariantResult], plan: Plan) -> None:
    rep.add(
        f"## Sustained throughput ({plan.sustained_incidents} incidents × {PER_INCIDENT} events, "
        f"batches of {BATCH}, {CLIENTS} concurrent senders, {INTERLEAVE} incidents interleaved)",
        "",
    )
    rows = []
    for key, res in results.items():
        pub, consume = res.baseline["publish"], res.baseline["consume_100"]
        for via, run in res.sustained.items():
            path = "HTTP" if via == "http" else "NATS request"
            ingest_writes = (
                run.writes.get(subjects.EVENTS_STREAM, 0) + run.writes.get(KV_STREAM, 0)
            ) / run.events
            accept = run.rate(run.accept_s)
            recorded, reviewed, drained = (
                run.rate(run.recorded_s),
                run.rate(run.reviewed_s),
                run.rate(run.drained_s),
            )
            rows += [
                [
                    key,
                    path,
                    "accepted (first request → last answer)",
                    fmt_rate(accept),
                    f"{pct(accept, pub)} of raw publish; {pct(accept, pub / ingest_writes if ingest_writes else None)}"
                    f" of raw publish ÷ {ingest_writes:.2f} writes/event",
                ],
                [
                    key,
                    path,
                    "→ recorded by reports (a GET shows it)",
                    fmt_rate(recorded),
                    f"{pct(recorded, pub)} of raw publish",
                ],
                [
                    key,
                    path,
                    "**→ every review materialised with all its events**",
                    f"**{fmt_rate(reviewed)}**",
                    f"{pct(reviewed, pub)} of raw publish; {pct(reviewed, consume)} of raw consume",
                ],
                [
                    key,
                    path,
                    "→ every durable consumer drained",
                    fmt_rate(drained),
                    f"{pct(drained, pub)} of raw publish",
                ],
                [
                    key,
                    path,
                    "reviews checked with GET afterwards",
                    f"{run.verified}/{run.incidents} complete",
                    f"retried requests: {run.errors}",
                ],
            ]
            for label, value in (
                ("accept", accept),
                ("recorded", recorded),
                ("reviewed", reviewed),
                ("drained", drained),
            ):
                rep.result(f"{key} sustained {via} {label}", value, "events/s", events=run.events)
        http = res.sustained.get("http")
        if http is None:
            continue
        accept, reviewed = http.rate(http.accept_s), http.rate(http.reviewed_s)
        writes = (http.writes.get(subjects.EVENTS_STREAM, 0) + http.writes.get(KV_STREAM, 0)) / http.events
        if key == "A":
            rep.goals.append(
                Goal(
                    "accepted → review sustained ≥ 50 % of raw fsync'd pipelined publish",
                    f"{fmt_rate(reviewed)} = {pct(reviewed, pub)} of {pub:,.0f} msgs/s",
                    reviewed is not None and reviewed >= 0.5 * pub,
                )
            )
            target = pub / writes if writes else None
            rep.goals.append(
                Goal(
                    f"HTTP accept (batches of 100) ≥ 80 % of raw fsync'd publish ÷ {writes:.2f} fsync'd writes "
                    "ingest makes per event",
                    f"{fmt_rate(accept)} = {pct(accept, target)} of {target or 0:,.0f}/s",
                    accept is not None and target is not None and accept >= 0.8 * target,
                )
            )
        else:
            rep.goals.append(
                Goal(
                    "default sync: accepted → review ≥ 20 % of raw consume",
                    f"{fmt_rate(reviewed)} = {pct(reviewed, consume)} of {consume:,.0f} msgs/s",
                    reviewed is not None and reviewed >= 0.2 * consume,
                )
            )
    rep.add(*table(["server", "path", "figure", "value", "ratio to the in-run baseline"], rows))


def report_latency(rep: Report, res: VariantResult, plan: Plan) -> None:
    if not res.latencies:
        return
    rep.add(
        f"## Latency at fixed rates (A; open loop, one event per POST, {plan.latency_seconds:.0f} s per rate; "
        "p50 / p99 / max in ms)",
        "",
    )
    rows = []
    for lat in res.latencies:
        reached = lat.achieved_rate >= 0.9 * lat.rate
        rows.append(
            [
                f"{lat.rate}/s",
                f"{lat.achieved_rate:,.0f}/s{'' if reached else ' (not reached)'}; {lat.errors} errors, "
                f"{lat.skipped} events not sent",
                ms(lat.post_ms),
                f"{ms(lat.decision_ms)} ({len(lat.decision_ms)}/{lat.decisions_expected})",
                ms(lat.decision_from_post_ms),
                f"{ms(lat.recorded_ms)} ({len(lat.recorded_ms)}/{lat.events_accepted})",
                f"{ms(lat.reviewed_ms)} ({len(lat.reviewed_ms)}/{lat.events_accepted})",
                f"{ms(lat.escalation_ms)} ({len(lat.escalation_ms)}/{lat.escalations_expected})",
                ms(lat.fired_ms),
                f"{lat.client_cpu_s:.1f} s",
                f"{100 * lat.machine['others']:.0f} % (steal {100 * lat.machine['steal']:.0f} %)",
            ]
        )
        for label, values in (
            ("POST to 202", lat.post_ms),
            ("accepted to decision", lat.decision_ms),
            ("POST to decision", lat.decision_from_post_ms),
            ("accepted to recorded", lat.recorded_ms),
            ("accepted to review", lat.reviewed_ms),
            ("due to escalation", lat.escalation_ms),
        ):
            if values:
                rep.result(f"A {lat.rate}/s {label} p50", percentile(values, 50), "ms", n=len(values))
                rep.result(
                    f"A {lat.rate}/s {label} p99",
                    percentile(values, 99),
                    "ms",
                    n=len(values),
                    max=max(values),
                )
        limit = 25 if lat.rate <= 100 else 50
        p99 = percentile(lat.decision_ms, 99) if lat.decision_ms else None
        complete = len(lat.decision_ms) == lat.decisions_expected
        figure = f"{p99:,.0f} ms" if p99 is not None else "none measured"
        if not reached:
            figure += f" — but only {lat.achieved_rate:,.0f} events/s were accepted"
        rep.goals.append(
            Goal(
                f"p99 accepted → decision ≤ {limit} ms at {lat.rate} events/s",
                figure,
                p99 is not None and complete and reached and p99 <= limit,
            )
        )
    rep.add(
        *table(
            [
                "rate",
                "accepted",
                "POST → 202",
                "202 → first decision",
                "POST → first decision",
                "202 → recorded by reports",
                "202 → in the materialised review",
                "due → escalation received",
                "escalation `fired_at` − due",
                "client CPU",
                "other load",
            ],
            rows,
        ),
        "Decision: a core NATS subscription on `majorops.decisions.>` (own connection and thread); the first "
        "decision of each new incident, from the 202 of its `incident.declared` (negative: the decision was out "
        "before the 202 came back). Recorded / review: reports' SQLite polled every 20 ms, read-only (`events` "
        "table; event ids in the stored review's `timeline`). Escalation: one incident in "
        f"{CLOSING_EVERY} is posted as [resolved, closed, declared critical] with `closed` backdated so that "
        f"`schedule_by` (closed + 24 h) falls {ESCALATION_LEAD_SECONDS} s after the POST; level 1 of "
        "`after_action_not_scheduled` on `majorops.escalations.>`, receive time − `due_at`. The sender is a "
        f"minimal keep-alive HTTP/1.1 client (httpx costs ~10× the CPU per request) with at most {IN_FLIGHT} "
        "requests in flight: a rate the system cannot take shows as a lower accepted rate and a long POST → 202. "
        "Other load: CPU used by processes outside the benchmark, as a share of the machine.",
        "",
    )


def report_sizes(rep: Report, res: VariantResult) -> None:
    if not res.sizes:
        return
    rep.add(
        "## One incident of N events (A; HTTP batches of 100, 4 senders; first POST → its review lists all N)",
        "",
    )
    # Per event: the measured cost, or (bounded wait over) a lower bound: waited ÷ N.
    per = {s.size: (s.seconds or s.waited_s) / s.size for s in res.sizes if s.seconds or s.waited_s}
    exact = {s.size: bool(s.seconds) for s in res.sizes}
    first = res.sizes[0].size
    ref = 100 if 100 in per else first
    rows = []
    for s in res.sizes:
        p = per.get(s.size)
        bound = "" if exact[s.size] else "> "
        rows.append(
            [
                f"{s.size:,}",
                f"{s.seconds:.2f} s"
                if s.seconds
                else f"not complete after {s.waited_s:.0f} s (the bounded wait): {s.reached:,} of {s.size:,} "
                "in the review",
                f"{bound}{p * 1000:.2f} ms" if p else "—",
                f"{bound}{p / per[first]:.2f}×" if p and first in per else "—",
                f"{bound}{p / per[ref]:.2f}×" if p and ref in per else "—",
                " / ".join(f"{s.cpu.get(n, 0) / s.size * 1000:.2f}" for n in PROCS),
            ]
        )
        rep.result(
            f"A one incident of {s.size} events, per event{'' if exact[s.size] else ' (lower bound)'}",
            p * 1000 if p else None,
            "ms",
            seconds=s.seconds,
            reached=s.reached,
        )
    rep.add(
        *table(
            [
                "events",
                "first POST → review complete",
                "per event",
                f"vs {first} events",
                f"vs {ref} events",
                "CPU ms per event (until complete or the wait ended): " + " / ".join(PROCS),
            ],
            rows,
        ),
        f"At {first} events the figure is one round trip through the pipeline (latency), from 100 on it is "
        "throughput: the column against 100 events is the one that shows super-linear growth. This phase runs "
        "last: when the largest incident outlasts its wait, the system is still busy with it and is stopped.",
        "",
    )
    largest = res.sizes[-1]
    goal = f"per-event cost at {largest.size:,} events within 2× of that at {first}"
    if first in per and largest.size in per:
        ratio = per[largest.size] / per[first]
        bound = "" if exact[largest.size] else "> "
        figure = (
            f"{bound}{ratio:.2f}× ({bound}{per[largest.size] * 1000:.2f} vs {per[first] * 1000:.2f} ms; "
            f"{bound}{per[largest.size] / per[ref]:.2f}× the cost at {ref})"
        )
        met: bool | None = ratio <= 2.0 if exact[largest.size] else (False if ratio > 2.0 else None)
        rep.goals.append(Goal(goal, figure, met))
    else:
        rep.goals.append(Goal(goal, "not measured", None))


def report_processes(rep: Report, results: dict[str, VariantResult]) -> None:
    rep.add(
        "## CPU and memory per process (sustained phases: first request → every consumer drained)",
        "",
    )
    rows = []
    for key, res in results.items():
        for via, run in res.sustained.items():
            per_k = {n: run.cpu.get(n, 0.0) / run.events * 1000 for n in PROCS}
            total = sum(per_k.values())
            rows.append(
                [key, f"CPU s per 1,000 events ({'HTTP' if via == 'http' else 'NATS'})"]
                + [f"{per_k[n]:.2f} ({100 * per_k[n] / total:.0f} %)" if total else "—" for n in PROCS]
                + [
                    f"{total:.2f}",
                    f"{run.client_cpu_s / run.events * 1000:.2f}",
                    f"{100 * run.machine['others']:.0f} % (steal {100 * run.machine['steal']:.0f} %)",
                ]
            )
            for n in PROCS:
                rep.result(f"{key} CPU s per 1000 events {via} {n}", per_k[n], "s")
        rows.append(
            [key, "peak RSS (VmHWM), end of run"]
            + [f"{res.hwm.get(n, 0):.0f} MiB" for n in PROCS]
            + ["", "", ""]
        )
        for n in PROCS:
            rep.result(f"{key} peak RSS {n}", res.hwm.get(n), "MiB")
    rep.add(
        *table(["server", "figure", *PROCS, "all", "benchmark client", "other load on the machine"], rows),
        "CPU from /proc/<pid>/stat (utime + stime) of each child of the supervisor, and of nats-server. Other "
        "load: CPU that processes outside the benchmark used meanwhile (/proc/stat minus ours), as a share of "
        "all cores; the machine is shared, so figures move with it. "
        "Service restarts during the run: "
        + "; ".join(f"{k}: {r.restarts}" for k, r in results.items())
        + ".",
        "",
    )


def report_writes(rep: Report, results: dict[str, VariantResult]) -> None:
    rep.add("## Writes per accepted event (sustained HTTP phase)", "")
    rows = []
    for key, res in results.items():
        run = res.sustained.get("http")
        if run is None:
            continue
        for stream in STREAMS:
            value = run.writes.get(stream, 0) / run.events
            rows.append([key, f"stream {stream}", WRITER[stream], f"{value:.3f} messages"])
            rep.result(f"{key} messages per event {stream}", value, "msgs")
        acks = ", ".join(f"{c.split('/')[-1]} {v / run.events:.2f}" for c, v in sorted(run.acks.items()) if v)
        rows.append([key, "consumer ack floors moved", "the consumers", acks])
        if run.io:
            rows.append(
                [
                    key,
                    "nats-server /proc/<pid>/io",
                    "—",
                    f"{run.io['nats_write_bytes_per_event']:,.0f} bytes to disk, "
                    f"{run.io['nats_syscw_per_event']:.2f} write syscalls",
                ]
            )
        if run.jsz:
            rows.append(
                [
                    key,
                    "monitoring endpoint /jsz",
                    "—",
                    f"storage +{run.jsz['storage_bytes_per_event']:,.0f} bytes, "
                    f"{run.jsz['api_calls_per_event']:.2f} JetStream API calls",
                ]
            )
    rep.add(*table(["server", "what", "written by", "per accepted event"], rows))
    census = results["A"].census if "A" in results else {}
    if not census:
        return
    rep.add(
        f"### fsync census (A; strace -e fsync,fdatasync on every process; {census.get('events', 0)} events through HTTP)",
        "",
    )
    if "skipped" in census:
        rep.add(f"Not measured: {census['skipped']}.", "")
        return
    rows = []
    for proc_name, per in census["per_event"].items():
        total = sum(per.values())
        for what, v in sorted(per.items(), key=lambda kv: -kv[1]):
            rows.append([proc_name, what, f"{v:.3f}"])
        rows.append([f"**{proc_name}**", "**all**", f"**{total:.3f}**"])
        rep.result(
            f"A fsyncs per event {proc_name}", total, "fsyncs", **{k: round(v, 3) for k, v in per.items()}
        )
    everything = sum(sum(per.values()) for per in census["per_event"].values())
    rows.append(["**all processes**", "", f"**{everything:.2f}**"])
    rep.add(
        *table(["process", "file", "fsyncs per accepted event"], rows),
        "The census phase runs under strace and is not timed. nats-server: a stream's `msgs` block is one fsync "
        "per stored message with `sync_interval: always`; consumer state (`obs/<durable>`) is synced in batches. "
        "Services: SQLite in WAL mode with `synchronous=FULL` (a commit syncs the `-wal` file).",
        "",
    )


def report_memory(rep: Report, mem: MemoryRun | None) -> None:
    if mem is None or len(mem.samples) < 3:
        return
    stop = ", stopped by the time budget" if mem.stopped_by_budget else ""
    rep.add(
        f"## Memory over a run of {mem.events:,} events (A; {mem.seconds:.0f} s, budget {mem.budget_s:.0f} s{stop}; "
        "RSS in MiB)",
        "",
    )
    shown = mem.samples
    if len(shown) > 12:
        shown = [shown[0], *shown[1:-1][:: max(len(shown) // 10, 1)], shown[-1]]
    rows = [
        [f"{s['events']:,} ({s['label']})"] + [f"{s['rss_mib'].get(p, 0):.0f}" for p in PROCS] for s in shown
    ]
    warm = mem.samples[min(2, len(mem.samples) - 2)]  # after ~10 % of the run
    end = mem.samples[-1]
    growth = {
        p: (end["rss_mib"].get(p, 0) / warm["rss_mib"][p] - 1) * 100 for p in PROCS if warm["rss_mib"].get(p)
    }
    rows.append([f"change {warm['events']:,} → end"] + [f"{growth.get(p, 0):+.1f} %" for p in PROCS])
    rep.add(
        *table(["events sent", *PROCS], rows),
        f"New 20-event incidents through HTTP, never more than {MEMORY_WINDOW:,} messages ahead of the slowest "
        "consumer; RSS (VmRSS) sampled after each 5 % of the events. nats-server's RSS includes its block cache.",
        "",
    )
    services = {p: g for p, g in growth.items() if p in SERVICES}
    worst = max(services.items(), key=lambda kv: abs(kv[1]), default=("—", 0.0))
    rep.goals.append(
        Goal(
            f"RSS of each service flat within ±10 % over {mem.events:,} events (after warm-up → end)",
            f"largest change: {worst[0]} {worst[1]:+.1f} % (nats-server {growth.get('nats-server', 0):+.1f} %)",
            abs(worst[1]) <= 10,
        )
    )
    for p, g in growth.items():
        rep.result(f"A RSS growth {p}", g, "%", from_events=warm["events"], to_events=end["events"])


def build_report(
    results: dict[str, VariantResult], plan: Plan, took: float, ctx: BenchContext
) -> tuple[str, list[Result], list[Goal]]:
    rep = Report()
    mach, vers = machine(), versions()
    flags = (" --quick" if ctx.quick else "") + (" --long" if ctx.long else "")
    body = Report()
    report_baselines(body, results, plan)
    report_sustained(body, results, plan)
    if "A" in results:
        report_latency(body, results["A"], plan)
        report_sizes(body, results["A"])
    report_processes(body, results)
    report_writes(body, results)
    if "A" in results:
        report_memory(body, results["A"].memory)
    rep.add(
        f"# End-to-end pipeline (`python -m benchmarks pipeline{flags}`)",
        "",
        f"Machine: {mach['cores']} cores ({mach['cpu']}), {mach['ram']} RAM, Linux {mach['kernel']}; the benchmark "
        "client, nats-server and the four services share these cores. Versions: "
        + ", ".join(f"{k} {v}" for k, v in vers.items())
        + f". The run took {took:.0f} s.",
        "",
        "**A** = `majorops up` as shipped (the real CLI; embedded nats-server with `sync_interval: always`). "
        "**B** = the same `majorops up` on a nats-server with its default sync, started by the benchmark "
        "(`MAJOROPS_NATS_URL`; `majorops up` has no option for it). Each has its raw nats-py baseline measured on "
        'the same server in the same run. "In the review" is read from reports\' SQLite file, read-only: a phase '
        "is done when every review's materialised document lists all its events in `timeline` (afterwards each "
        "review is also fetched with `GET /v1/reviews/<id>` and its timeline length checked).",
        "",
        "## Goals (issue 8)",
        "",
        *table(
            ["goal", "measured", ""],
            [
                [
                    g.text,
                    g.figure,
                    "**met**" if g.met else ("**not met**" if g.met is False else "not measured"),
                ]
                for g in body.goals
            ],
        ),
        *body.lines,
        "Startup (`majorops up` → ready): "
        + ", ".join(f"{k} {r.startup_s:.1f} s" for k, r in results.items())
        + ".",
    )
    return "\n".join(rep.lines) + "\n", body.results, body.goals


async def run(ctx: BenchContext) -> list[Result]:
    plan = plan_for(ctx)
    began = time.perf_counter()
    results: dict[str, VariantResult] = {}
    say(f"plan: {plan}")
    if ctx.long:
        say(
            f"--long: memory run of up to {plan.memory_events:,} events within {plan.memory_budget_seconds / 60:.0f} min"
        )
    results["A"] = await run_variant(ctx, plan, "A", full=True)
    results["B"] = await run_variant(ctx, plan, "B", full=False)
    took = time.perf_counter() - began
    text, out, _goals = build_report(results, plan, took, ctx)
    print()
    print(text)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    md = ctx.out_dir / "pipeline.md"
    md.write_text(text)
    print(f"-> {md}")
    raw = {
        "plan": plan.__dict__,
        "memory_samples": results["A"].memory.samples if results["A"].memory else [],
        "census": results["A"].census,
    }
    out.append(Result("run took", took, "s", {"details": raw}))
    return out
