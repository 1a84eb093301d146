"""The reliability campaign (RELIABILITY.md): its shortened run, and the judgement its checks rest on.

The run is ``python -m chaos --short`` as a user types it: a 3-node nats-server cluster, two replicas
of each service, a seeded workload over HTTP and NATS under SIGKILLs, a SIGSTOP longer than the ack
wait, a nats-server killed, the whole cluster restarted and a SQLite store locked; then every check
must hold. The seed is random unless ``MAJOROPS_CHAOS_SEED`` names one; it is printed, and a failing
run keeps its logs under ``.majorops/chaos/`` (the path is in the output).

The other tests, without processes, pin what the campaign relies on: a seed always gives the same
valid workload, and an escalation is judged by the events JetStream held when it fired.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # ``chaos`` lives at the repo root

from chaos.expected import HeldEvent, expect, justified_when_fired, met_in_time
from chaos.plan import SHORT
from chaos.workload import WorkloadWriter
from majorops.policy.domain.business_days import BusinessCalendar
from majorops.shared.events import validate_event

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_the_short_campaign_loses_no_event_and_escalates_each_obligation_exactly_once(tmp_path: Path) -> None:
    seed = int(os.environ.get("MAJOROPS_CHAOS_SEED") or random.SystemRandom().randrange(1, 1_000_000))
    report = tmp_path / "chaos.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAJOROPS_")}
    run = subprocess.run(
        [sys.executable, "-m", "chaos", "--short", "--seed", str(seed), "--report", str(report)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    print(run.stdout)
    assert run.returncode == 0, f"chaos seed {seed} failed:\n{run.stdout[-8000:]}\n{run.stderr[-4000:]}"
    assert f"chaos: seed {seed}" in run.stdout.splitlines()[0]
    outcome = json.loads(report.read_text())
    assert outcome["ok"] and all(check["count"] == 0 for check in outcome["checks"])
    figures = outcome["figures"]
    assert figures["faults"] == {
        "service_sigkills": SHORT.service_kills,
        "nats_server_sigkills": SHORT.node_kills,
        "cluster_restarts": SHORT.cluster_restarts,
        "sigstops": SHORT.pauses,
        "store_outages": 1,
    }
    assert figures["events_in_stream"] >= SHORT.valid_events
    assert figures["escalations_published"] >= figures["escalations_expected"] > 0
    assert figures["live_levels"] > 0
    assert (
        len([r for r in figures["resumptions"] if r["promised"]]) == SHORT.node_kills + SHORT.cluster_restarts
    )


def test_a_seed_always_writes_the_same_valid_workload() -> None:
    start = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    first = WorkloadWriter(SHORT, 7, start).write()
    again = WorkloadWriter(SHORT, 7, start).write()
    other = WorkloadWriter(SHORT, 8, start).write()
    assert [(p.at, [e["id"] for e in p.events], p.via) for p in first.posts] == [
        (p.at, [e["id"] for e in p.events], p.via) for p in again.posts
    ]
    assert first.valid == again.valid and first.valid != other.valid
    per_incident: dict[str, int] = {}
    for event in first.valid.values():
        validate_event(event)
        per_incident[event["subject"]] = per_incident.get(event["subject"], 0) + 1
    assert set(per_incident.values()) == {SHORT.events_per_incident}
    assert len(per_incident) == SHORT.incidents
    for event in list(first.invalid.values()) + first.bypass:
        with pytest.raises(ValueError):
            validate_event(event)


def _held(envelopes: list[dict[str, Any]], stored: list[datetime]) -> dict[str, list[HeldEvent]]:
    return {
        "INC-7": [
            HeldEvent(validate_event(envelope), n, at)
            for n, (envelope, at) in enumerate(zip(envelopes, stored, strict=True))
        ]
    }


def _event(n: int, kind: str, at: datetime, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"INC-7-e{n}",
        "source": "test",
        "type": f"majorops.{kind}",
        "time": at.isoformat(),
        "subject": "INC-7",
        "data": data or {},
    }


def test_an_escalation_is_judged_by_the_events_jetstream_held_when_it_fired() -> None:
    """Closed ten days ago, the After Action scheduled 2 h after close (in time): level 1 of
    ``after_action_not_scheduled`` is wrong if the scheduling was stored before it fired, and right
    (a level already published stays published) if the scheduling arrived after."""
    now = datetime.now(UTC).replace(microsecond=0)
    closed = now - timedelta(days=10)
    envelopes = [
        _event(1, "incident.declared", closed - timedelta(hours=1), {"title": "t", "severity": "critical"}),
        _event(2, "incident.resolved", closed - timedelta(minutes=5)),
        _event(3, "incident.closed", closed),
        _event(4, "afteraction.scheduled", closed + timedelta(hours=2), {"meeting_at": now.isoformat()}),
    ]
    arrived = now - timedelta(minutes=5)
    stored = [arrived, arrived, arrived, arrived + timedelta(seconds=30)]
    held = _held(envelopes, stored)
    interval, calendar, margin = timedelta(seconds=30), BusinessCalendar(), timedelta(seconds=2)
    final = expect({"INC-7": [h.event for h in held["INC-7"]]}, now, interval, calendar)
    level = "INC-7:after_action_not_scheduled:1"
    assert level not in final.firing and "INC-7:after_action_not_held:1" in final.firing
    assert met_in_time(level, final)

    before = justified_when_fired(
        level, "INC-7", arrived + timedelta(seconds=10), held, interval, calendar, margin, final
    )
    assert before.justified, before.why
    after = justified_when_fired(
        level, "INC-7", arrived + timedelta(seconds=40), held, interval, calendar, margin, final
    )
    assert not after.justified and after.why.startswith("met in time"), after.why
