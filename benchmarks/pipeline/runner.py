"""The entry point ``run(ctx)`` that ``python -m benchmarks pipeline`` calls.

Runs setting A (every phase) then B (baselines and sustained phases), prints and writes
``pipeline.md``, and returns the results the harness writes to ``pipeline.json``.
"""

from __future__ import annotations

import time

from benchmarks.harness import BenchContext, Result
from benchmarks.pipeline.plan import plan_for
from benchmarks.pipeline.report import build_report
from benchmarks.pipeline.variant import VariantResult, run_variant, say

OWN_SERVERS = True
"""The harness starts no shared server for this benchmark: it starts its own (see
:mod:`benchmarks.pipeline`)."""


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
