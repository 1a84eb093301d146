"""The workload: CloudEvents the benchmark sends, built in memory with no I/O.

Closed 20-event incidents interleaved for the sustained phases, one incident of N events for the
size phase, and the open-loop schedule of the latency phase with its escalation probe (incidents
posted closed and backdated so that ``schedule_by`` falls a few seconds ahead).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.pipeline.plan import BATCH, CLOSING_EVERY, ESCALATION_LEAD_SECONDS, INTERLEAVE, PER_INCIDENT


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
