"""Watching the system without perturbing it: reports' SQLite read-only, JetStream state, polling.

:class:`ReportsDb` reads what reports recorded and materialised; the stream/consumer helpers read
JetStream (writes per stream, backlogs of the durable consumers); :func:`wait_until` polls a check.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from benchmarks.pipeline.plan import STREAMS


class ReportsDb:
    """Reports' SQLite file, read-only (WAL: readers never block its writer)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, timeout=10, check_same_thread=False
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @staticmethod
    def _range(tag: str) -> tuple[str, str]:
        return f"{tag}-", f"{tag}."  # '.' sorts right after '-': the ids of one tag, with the index

    def recorded(self, tag: str) -> int:
        row = (
            self.conn()
            .execute(
                "SELECT count(*) FROM events WHERE incident_id >= ? AND incident_id < ?", self._range(tag)
            )
            .fetchone()
        )
        return int(row[0])

    def complete_reviews(self, tag: str, per_incident: int) -> int:
        """Reviews of the tag whose materialised document holds ``per_incident`` timeline entries."""
        row = (
            self.conn()
            .execute(
                "SELECT count(*) FROM reviews WHERE incident_id >= ? AND incident_id < ? "
                "AND document IS NOT NULL AND json_array_length(document, '$.timeline') >= ?",
                (*self._range(tag), per_incident),
            )
            .fetchone()
        )
        return int(row[0])

    def timeline_length(self, incident: str) -> int:
        row = (
            self.conn()
            .execute(
                "SELECT json_array_length(document, '$.timeline') FROM reviews WHERE incident_id = ?",
                (incident,),
            )
            .fetchone()
        )
        return int(row[0]) if row and row[0] is not None else 0

    def max_rowid(self) -> int:
        row = self.conn().execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()
        return int(row[0])

    def events_after(self, rowid: int, limit: int = 5_000) -> list[tuple[int, str]]:
        return [
            (int(r[0]), str(r[1]))
            for r in self.conn().execute(
                "SELECT rowid, event_id FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?", (rowid, limit)
            )
        ]

    def timeline_ids(self, incidents: list[str]) -> list[tuple[str, str]]:
        if not incidents:
            return []
        marks = ",".join("?" * len(incidents))
        return [
            (str(r[0]), str(r[1]))
            for r in self.conn().execute(
                "SELECT r.incident_id, json_extract(j.value, '$.event_id') FROM reviews r, "  # noqa: S608
                f"json_each(r.document, '$.timeline') j WHERE r.incident_id IN ({marks}) "
                "AND r.document IS NOT NULL",
                incidents,
            )
        ]


async def stream_state(js: JetStreamContext) -> dict[str, dict[str, int]]:
    out = {}
    for name in STREAMS:
        try:
            info = await js.stream_info(name)
        except NotFoundError:  # the dead-letter stream, before anything failed
            continue
        out[name] = {
            "last_seq": int(info.state.last_seq or 0),
            "messages": int(info.state.messages or 0),
            "bytes": int(info.state.bytes or 0),
        }
    return out


async def consumer_state(js: JetStreamContext) -> dict[str, dict[str, int]]:
    out = {}
    for stream in STREAMS:
        try:
            infos = await js.consumers_info(stream)
        except NotFoundError:
            continue
        for info in infos:
            out[f"{stream}/{info.name}"] = {
                "pending": int(info.num_pending or 0),
                "ack_pending": int(info.num_ack_pending or 0),
                "ack_floor": int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0,
                "redelivered": int(info.num_redelivered or 0),
            }
    return out


async def backlog(js: JetStreamContext) -> int:
    """Messages some service has not acknowledged yet, over every durable consumer."""
    return sum(c["pending"] + c["ack_pending"] for c in (await consumer_state(js)).values())


async def slowest_backlog(js: JetStreamContext) -> int:
    """Messages the slowest durable consumer has not acknowledged yet."""
    return max((c["pending"] + c["ack_pending"] for c in (await consumer_state(js)).values()), default=0)


async def jsz(monitor: str | None) -> dict[str, Any]:
    if monitor is None:
        return {}
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            body: dict[str, Any] = (await http.get(f"{monitor}/jsz")).json()
            return body
    except (httpx.HTTPError, ValueError):
        return {}


async def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.1) -> tuple[bool, float]:
    """Poll ``check`` (a coroutine function) until truthy; (met, perf_counter when met or gave up)."""
    deadline = time.perf_counter() + timeout
    while True:
        if await check():
            return True, time.perf_counter()
        if time.perf_counter() > deadline:
            return False, time.perf_counter()
        await asyncio.sleep(interval)
