"""Sizes and tunables of the end-to-end benchmark, and the :class:`Plan` of one run.

Every other module reads its constants from here (batch size, senders, incidents interleaved,
streams and who writes them, the escalation lead, the long-run budget), so that the workload, the
phases and the report agree on them; this module imports no other one of the package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from benchmarks.harness import BenchContext
from majorops.shared import subjects
from majorops.shared.consumers import DEFAULT_BATCH_SIZE

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
