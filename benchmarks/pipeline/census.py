"""Phase 3: the fsync census — strace (fsync/fdatasync only) on nats-server and every service.

Counts fsyncs per accepted event by the file synced (a stream's messages, a consumer's state, a
service's SQLite) while a small batch flows; the phase is not timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from benchmarks.pipeline.events import batches, interleaved
from benchmarks.pipeline.observe import ReportsDb, backlog, wait_until
from benchmarks.pipeline.plan import PER_INCIDENT
from benchmarks.pipeline.system import UpSystem
from benchmarks.pipeline.throughput import post_batches

FSYNC_PATH = re.compile(r"f(?:data)?sync\(\d+<([^>]*)>\)")


def classify_fsync(path: str) -> str:
    """What an fsync'd file is: a stream's messages, a consumer's state, a service's SQLite, …"""
    match = re.search(r"/streams/([^/]+)(/.*)?$", path)
    if match:
        stream, rest = match.group(1), match.group(2) or ""
        consumer = re.match(r"/obs/([^/]+)", rest)
        if consumer:
            return f"consumer {consumer.group(1)} ({stream})"
        if rest.startswith("/msgs"):
            return f"stream {stream}"
        return f"stream {stream} (metadata)"
    name = Path(path).name
    if ".sqlite3" in name:
        return f"SQLite {name}"
    if name.endswith(".log") or ".log." in name:
        return "log file"
    return "other"


async def fsync_census(system: UpSystem, js: JetStreamContext, incidents: int) -> dict[str, Any]:
    """Attach strace (fsync/fdatasync only) to nats-server and each service while ``incidents`` × 20
    events flow through HTTP; count the fsyncs by file, per accepted event."""
    strace = shutil.which("strace")
    if strace is None:
        return {"skipped": "strace not installed"}
    pids = system.pids()
    traces: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    out_dir = system.data_dir / "strace"
    out_dir.mkdir(exist_ok=True)
    for name, pid in pids.items():
        path = out_dir / f"{name}.trace"
        proc = await asyncio.to_thread(
            subprocess.Popen,
            [strace, "-f", "-y", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(path), "-p", str(pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        traces[name] = (proc, path)
    try:
        await asyncio.sleep(1.5)
        for name, (proc, _path) in traces.items():
            if proc.poll() is not None:
                error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                return {"skipped": f"strace could not attach to {name}: {error.strip()[:200]}"}
        tag = "CENSUS"
        events = interleaved(tag, incidents, datetime.now(UTC))
        await post_batches(system.ingest, batches(events))
        db = ReportsDb(system.reports_db)
        try:
            await wait_until(
                lambda: asyncio.to_thread(lambda: db.complete_reviews(tag, PER_INCIDENT) >= incidents), 120
            )
        finally:
            db.close()

        async def drained() -> bool:
            return await backlog(js) == 0

        await wait_until(drained, 60, 0.2)
        await asyncio.sleep(2.5)  # consumer state and SQLite checkpoints that trail the last message
    finally:
        for proc, _path in traces.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, _path in traces.values():
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                proc.kill()
    counts: dict[str, Counter[str]] = {}
    for name, (_proc, path) in traces.items():
        counter: Counter[str] = Counter()
        with contextlib.suppress(OSError):
            for line in path.read_text(errors="replace").splitlines():
                match = FSYNC_PATH.search(line)
                if match:
                    counter[classify_fsync(match.group(1))] += 1
        counts[name] = counter
    total = incidents * PER_INCIDENT
    return {
        "events": total,
        "per_event": {n: {k: v / total for k, v in c.items()} for n, c in counts.items()},
    }
