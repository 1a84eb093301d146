"""Report sections of the phases only setting A runs: latency at fixed rates, incident size, memory.

Each section adds Markdown to a :class:`Report`, the figures to its results and the goals it checks.
"""

from __future__ import annotations

from benchmarks.harness import percentile
from benchmarks.pipeline.plan import CLOSING_EVERY, ESCALATION_LEAD_SECONDS, MEMORY_WINDOW, SERVICES, Plan
from benchmarks.pipeline.rawhttp import IN_FLIGHT
from benchmarks.pipeline.render import PROCS, Goal, Report, ms, table
from benchmarks.pipeline.scale import MemoryRun
from benchmarks.pipeline.variant import VariantResult


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
