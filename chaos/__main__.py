"""``python -m chaos [--seed N] [--short] [--workdir DIR] [--keep-logs] [--report FILE]``.

Prints its seed first (a run is repeated with ``--seed``), then the faults as they happen, then
every check with its count. Exit status 0 when every check holds, 1 on any violation (the logs of
the run are kept and their place printed), 2 when the campaign itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from chaos.campaign import Campaign
from chaos.outcome import Outcome
from chaos.plan import FULL, SHORT


def say(text: str) -> None:
    print(text, flush=True)


def render(outcome: Outcome) -> str:
    lines = [f"checks (seed {outcome.seed}, {outcome.plan} run):"]
    for check in outcome.checks:
        mark = "ok  " if check.ok else "FAIL"
        lines.append(f"  {mark} {check.count:>5}  {check.name}")
        lines += [f"               e.g. {example}" for example in check.examples]
    f = outcome.figures
    if f:
        faults = f["faults"]
        lines += [
            "figures:",
            f"  run time {f['run_seconds']} s (healed at t+{f['healed_at_s']} s)",
            f"  {f['incidents']} incidents (+{f['canary_incidents']} canaries), {f['events_valid']} valid events, "
            f"{f['events_sent_again']} sent again, {f['events_invalid_posted']} invalid posted, "
            f"{f['events_invalid_bypassing_ingest']} invalid bypassing ingest; {f['events_in_stream']} events held",
            f"  requests {f['requests']}; answers {f['answers']}; ingest counted {f['ingest_counted']}",
            f"  faults: {faults['service_sigkills']} SIGKILLs of service replicas, {faults['nats_server_sigkills']} "
            f"SIGKILLs of a nats-server, {faults['cluster_restarts']} whole-cluster restarts, "
            f"{faults['sigstops']} SIGSTOPs, {faults['store_outages']} store outage(s)",
            "  resumptions: "
            + "; ".join(
                f"{r['after']} → {r['seconds'] if r['seconds'] is not None else 'never'} s"
                for r in f["resumptions"]
            ),
            f"  unplanned exits: {f['unplanned_exits'] or 'none'}",
            f"  decisions: {f['decision_revisions']} revisions; escalations: {f['escalations_published']} published, "
            f"{f['escalations_expected']} expected by the domain, {f['escalations_before_the_history_that_meets_them']} "
            "fired before the history that meets them arrived (allowed)",
            f"  expected escalations by kind: {f['escalations_expected_by_kind']}",
            f"  live levels: {f['live_levels']} fired after their time by {f['live_level_delay_s']} s "
            f"(+{f['live_levels_whose_history_came_after_their_time']} whose history came after their time)",
            f"  heads-ups: {f['heads_ups_published']}; dead letters: {f['dead_letters'] or 'none'} "
            f"(replayed {f['dead_letters_replayed']})",
        ]
    lines.append(f"chaos seed {outcome.seed}: {'PASSED' if outcome.ok else 'FAILED'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seed", type=int, default=None, help="the run's seed (default: a random one, printed)"
    )
    parser.add_argument("--short", action="store_true", help="the shortened run of `make test`")
    parser.add_argument("--workdir", type=Path, default=None, help="where the data and logs go")
    parser.add_argument("--keep-logs", action="store_true", help="keep the data and logs of a passing run")
    parser.add_argument("--report", type=Path, default=None, help="also write the outcome as JSON here")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    plan = SHORT if args.short else FULL
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    workdir = args.workdir or Path(".majorops") / "chaos" / f"seed-{seed}-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    say(
        f"chaos: seed {seed}, {plan.name} run — repeat it with: python -m chaos --seed {seed}{' --short' if args.short else ''}"
    )
    say(f"chaos: data and logs in {workdir}")
    began = time.monotonic()
    try:
        outcome = asyncio.run(Campaign(plan, seed, workdir.resolve(), say).run())
    except Exception:
        traceback.print_exc()
        say(f"chaos seed {seed}: the campaign could not run; logs kept in {workdir}")
        sys.exit(2)
    say(render(outcome))
    summary = json.dumps(outcome.as_json(), indent=2, default=str)
    (workdir / "summary.json").write_text(summary)
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(summary)
    say(f"chaos: {time.monotonic() - began:.0f} s in all")
    if outcome.ok and not args.keep_logs:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        say(f"chaos: logs kept in {workdir}")
    sys.exit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
