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

The package, one module per seam, each importing only modules listed before it:

- ``plan`` — sizes, tunables and the :class:`Plan` of a run;
- ``events`` — the workload: incidents, the latency schedule, the escalation probe;
- ``system`` — ``majorops up`` in a subprocess, ``/proc`` figures of its processes;
- ``observe`` — reports' SQLite read-only, JetStream stream and consumer state, polling;
- ``baseline`` — the raw nats-py baseline;
- ``rawhttp`` — the minimal HTTP/1.1 client of the latency phase;
- ``throughput`` — phases 1 and 2 (sustained HTTP / NATS ingest) and their senders;
- ``census`` — phase 3 (fsync census under strace);
- ``latencies`` — phase 4 (latency at fixed rates);
- ``scale`` — phases 5 and 6 (memory over a long run, one incident of N events);
- ``variant`` — one server setting, A or B, through its phases;
- ``render``, ``report_throughput``, ``report_phases``, ``report`` — the Markdown report and its goals;
- ``runner`` — :func:`run`, what ``python -m benchmarks`` calls.

Every name is re-exported here: ``from benchmarks import pipeline; pipeline.X``.
"""

from __future__ import annotations

from benchmarks.pipeline.baseline import raw_baseline
from benchmarks.pipeline.census import FSYNC_PATH, classify_fsync, fsync_census
from benchmarks.pipeline.events import (
    Unit,
    batches,
    big_incident,
    closing_events,
    envelope,
    incident_events,
    incident_id,
    interleaved,
    iso,
    latency_units,
)
from benchmarks.pipeline.latencies import Latency, Observer, ReflectionPoller, latency
from benchmarks.pipeline.observe import (
    ReportsDb,
    backlog,
    consumer_state,
    jsz,
    slowest_backlog,
    stream_state,
    wait_until,
)
from benchmarks.pipeline.plan import (
    BATCH,
    CLIENTS,
    CLOCK_TICKS,
    CLOSING_EVERY,
    ESCALATION_LEAD_SECONDS,
    INTERLEAVE,
    KV_STREAM,
    LONG_BUDGET_SECONDS,
    LONG_EVENTS,
    MEMORY_WINDOW,
    MIB,
    PER_INCIDENT,
    RAW_STREAM,
    RAW_SUBJECTS,
    SERVICE_FETCH_BATCH,
    SERVICES,
    SIZE_WAIT_SECONDS,
    STREAMS,
    WRITER,
    Plan,
    plan_for,
)
from benchmarks.pipeline.rawhttp import IN_FLIGHT, RawHttp
from benchmarks.pipeline.render import PROCS, Goal, Report, fmt_rate, machine, ms, pct, table, versions
from benchmarks.pipeline.report import build_report
from benchmarks.pipeline.report_phases import report_latency, report_memory, report_sizes
from benchmarks.pipeline.report_throughput import (
    report_baselines,
    report_processes,
    report_sustained,
    report_writes,
)
from benchmarks.pipeline.runner import run
from benchmarks.pipeline.scale import MemoryRun, SizeRun, incident_size, memory_run
from benchmarks.pipeline.system import (
    MachineClock,
    ProcStat,
    UpSystem,
    children_of,
    client_cpu_seconds,
    proc_stat,
)
from benchmarks.pipeline.throughput import Sustained, post_batches, request_batches, sustained, verify_reviews
from benchmarks.pipeline.variant import VariantResult, run_variant, say

OWN_SERVERS = True
"""The harness starts no shared server for this module: it starts its own (see the docstring)."""

__all__ = [
    "BATCH",
    "CLIENTS",
    "CLOCK_TICKS",
    "CLOSING_EVERY",
    "ESCALATION_LEAD_SECONDS",
    "FSYNC_PATH",
    "INTERLEAVE",
    "IN_FLIGHT",
    "KV_STREAM",
    "LONG_BUDGET_SECONDS",
    "LONG_EVENTS",
    "MEMORY_WINDOW",
    "MIB",
    "OWN_SERVERS",
    "PER_INCIDENT",
    "PROCS",
    "RAW_STREAM",
    "RAW_SUBJECTS",
    "SERVICES",
    "SERVICE_FETCH_BATCH",
    "SIZE_WAIT_SECONDS",
    "STREAMS",
    "WRITER",
    "Goal",
    "Latency",
    "MachineClock",
    "MemoryRun",
    "Observer",
    "Plan",
    "ProcStat",
    "RawHttp",
    "ReflectionPoller",
    "Report",
    "ReportsDb",
    "SizeRun",
    "Sustained",
    "Unit",
    "UpSystem",
    "VariantResult",
    "backlog",
    "batches",
    "big_incident",
    "build_report",
    "children_of",
    "classify_fsync",
    "client_cpu_seconds",
    "closing_events",
    "consumer_state",
    "envelope",
    "fmt_rate",
    "fsync_census",
    "incident_events",
    "incident_id",
    "incident_size",
    "interleaved",
    "iso",
    "jsz",
    "latency",
    "latency_units",
    "machine",
    "memory_run",
    "ms",
    "pct",
    "plan_for",
    "post_batches",
    "proc_stat",
    "raw_baseline",
    "report_baselines",
    "report_latency",
    "report_memory",
    "report_processes",
    "report_sizes",
    "report_sustained",
    "report_writes",
    "request_batches",
    "run",
    "run_variant",
    "say",
    "slowest_backlog",
    "stream_state",
    "sustained",
    "table",
    "verify_reviews",
    "versions",
    "wait_until",
]
