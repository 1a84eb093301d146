"""The whole report: machine, versions, the goals table, then every section in order."""

from __future__ import annotations

from benchmarks.harness import BenchContext, Result
from benchmarks.pipeline.plan import Plan
from benchmarks.pipeline.render import Goal, Report, machine, table, versions
from benchmarks.pipeline.report_phases import report_latency, report_memory, report_sizes
from benchmarks.pipeline.report_throughput import (
    report_baselines,
    report_processes,
    report_sustained,
    report_writes,
)
from benchmarks.pipeline.variant import VariantResult


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
