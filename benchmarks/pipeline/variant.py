"""One server setting (A or B) from start to stop: its system, its baseline, its phases, in order.

:class:`VariantResult` holds everything measured on it, which the report renders.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client

from benchmarks.harness import BenchContext, percentile
from benchmarks.pipeline.baseline import raw_baseline
from benchmarks.pipeline.census import fsync_census
from benchmarks.pipeline.latencies import Latency, latency
from benchmarks.pipeline.plan import PER_INCIDENT, SERVICE_FETCH_BATCH, SIZE_WAIT_SECONDS, Plan
from benchmarks.pipeline.scale import MemoryRun, SizeRun, incident_size, memory_run
from benchmarks.pipeline.system import UpSystem
from benchmarks.pipeline.throughput import Sustained, sustained
from majorops.cli.natsserver import NatsServer, free_port


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
