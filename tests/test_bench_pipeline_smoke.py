"""Smoke test of the end-to-end benchmark's helpers (``benchmarks/pipeline/``), no processes started.

Speed is never asserted here: the benchmark itself reports it. What is checked: every event the
benchmark sends is valid under the contract (a typo would make ingest answer 422 mid-run), the
backdated incidents of the escalation probe fall due when intended, the fsync census reads strace
lines right, the minimal HTTP client speaks HTTP/1.1, and the report renders with its goals.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # ``benchmarks`` lives at the repo root

from benchmarks.harness import BenchContext
from benchmarks.pipeline.census import FSYNC_PATH, classify_fsync
from benchmarks.pipeline.events import big_incident, closing_events, interleaved, latency_units
from benchmarks.pipeline.plan import ESCALATION_LEAD_SECONDS, PER_INCIDENT, SERVICE_FETCH_BATCH, plan_for
from benchmarks.pipeline.rawhttp import RawHttp
from benchmarks.pipeline.report import build_report
from benchmarks.pipeline.throughput import Sustained
from benchmarks.pipeline.variant import VariantResult
from majorops.shared.events import validate_event


def test_every_event_the_benchmark_sends_is_valid() -> None:
    now = datetime.now(UTC)
    events = interleaved("SMOKE", 30, now)
    assert len(events) == 30 * PER_INCIDENT
    assert len({e["id"] for e in events}) == len(events)
    events += big_incident("SMOKE-BIG", 120, now)
    units, expected = latency_units("SMOKE-LAT", rate=100, seconds=1.0)
    assert sum(expected.values()) >= 100
    for unit in units:
        events += unit.events if not unit.closing else closing_events(unit.incident)[0]
    for event in events:
        validate_event(event)


def test_the_escalation_probe_falls_due_a_few_seconds_ahead() -> None:
    events, due = closing_events("SMOKE-ESC-1")
    closed = next(e for e in events if e["type"] == "majorops.incident.closed")
    at = datetime.fromisoformat(closed["time"].replace("Z", "+00:00"))
    assert at + timedelta(hours=24) == datetime.fromtimestamp(due, UTC)
    ahead = due - datetime.now(UTC).timestamp()
    assert 0 < ahead <= ESCALATION_LEAD_SECONDS + 1
    assert [e["type"].rsplit(".", 1)[-1] for e in events] == ["resolved", "closed", "declared"]


def test_fsync_lines_are_attributed_to_streams_consumers_and_sqlite() -> None:
    line = "812 fsync(12</d/nats/jetstream/$G/streams/MAJOROPS_EVENTS/msgs/1.blk>) = 0"
    match = FSYNC_PATH.search(line)
    assert match is not None
    assert classify_fsync(match.group(1)) == "stream MAJOROPS_EVENTS"
    consumer = "/d/nats/jetstream/$G/streams/MAJOROPS_EVENTS/obs/policy-events"
    assert classify_fsync(consumer) == "consumer policy-events (MAJOROPS_EVENTS)"
    assert classify_fsync("/d/reports.sqlite3-wal") == "SQLite reports.sqlite3-wal"


async def test_the_raw_http_client_posts_and_reuses_its_connection() -> None:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = int(
                next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
            )
            seen.append(await reader.readexactly(length))
            writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()
            if len(seen) >= 2:
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, RawHttp("127.0.0.1", port, 4) as http:
        assert await http.post("/v1/events", b'{"a":1}') == 202
        assert await http.post("/v1/events", b'{"a":2}') == 202
    assert seen == [b'{"a":1}', b'{"a":2}']
    assert len(http.all) == 1


@pytest.mark.parametrize("quick", [True, False])
def test_the_report_renders_with_its_goals(quick: bool, tmp_path: Path) -> None:
    baseline = {
        "publish": 3000.0,
        "consume_100": 20000.0,
        f"consume_{SERVICE_FETCH_BATCH}": 15000.0,
        "payload_bytes": 277.0,
    }
    run = Sustained(
        via="http",
        events=10_000,
        incidents=500,
        accept_s=16.0,
        recorded_s=35.0,
        reviewed_s=35.2,
        drained_s=35.5,
        cpu={"ingest": 3.0, "reports": 19.0},
        hwm={"ingest": 68.0},
        writes={"MAJOROPS_EVENTS": 10_000, "KV_majorops_ingest_seen": 10_000},
        acks={},
        io={},
        jsz={},
        client_cpu_s=0.5,
        verified=500,
        errors=0,
        machine={"others": 0.05, "steal": 0.0, "ours": 0.9},
    )
    results = {key: VariantResult(key, baseline, 4.0, sustained={"http": run}) for key in ("A", "B")}
    ctx = BenchContext(nats_url="", scratch=tmp_path, quick=quick)
    text, out, goals = build_report(results, plan_for(ctx), 12.0, ctx)
    assert "## Goals (issue 8)" in text and "## Raw JetStream baseline" in text
    assert any("50 % of raw fsync'd pipelined publish" in g.text for g in goals)
    assert all(g.met is not None for g in goals)
    assert out
