"""Two replicas of a service starting at the same moment on a new SQLite store both start.

Switching a fresh file to WAL needs it alone for a moment, and SQLite refuses a second process doing
the same at once ("database is locked") without waiting for the busy timeout: before the store
retried the switch, about one start in two of a pair failed so (found by the reliability campaign,
RELIABILITY.md). Real processes, a real file, started together behind a barrier.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

from majorops.shared.storage.sqlite import EVENTS_SCHEMA, SqliteDatabase

ROUNDS = 15


def open_store(path: str, barrier: Barrier, answers: multiprocessing.Queue[str]) -> None:
    async def start() -> None:
        db = SqliteDatabase(Path(path), [EVENTS_SCHEMA])
        await db.open()
        assert await db.ping()
        await db.close()

    barrier.wait()
    try:
        asyncio.run(start())
    except Exception as exc:
        answers.put(repr(exc))
    else:
        answers.put("started")


def test_two_processes_opening_a_new_store_at_the_same_moment_both_start(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")  # the test module cannot be imported by a spawned child
    failures = []
    for round_ in range(ROUNDS):
        barrier, answers = context.Barrier(2), context.Queue()
        path = str(tmp_path / f"store-{round_}.sqlite3")
        replicas = [context.Process(target=open_store, args=(path, barrier, answers)) for _ in range(2)]
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.join(60)
        outcomes = [answers.get(timeout=10) for _ in replicas]
        failures += [outcome for outcome in outcomes if outcome != "started"]
    assert failures == []
