"""Exactly once, as real processes: ``python -m majorops.reminders`` killed with SIGKILL while
escalations are due and restarted, two replicas firing together, and a bad setting refused at start.

Every escalation and heads-up is read back from the stream (the source of truth for subscribers),
so a duplicate that JetStream did not drop would show. All tests of the session share one nats-server
and reminders' durable consumers, so each test waits until they settled before it ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from majorops.reminders.adapters.sqlite import SqliteRemindersStore
from majorops.reminders.config import RemindersSettings
from majorops.shared import subjects, testing
from majorops.shared.testing import consumers_settled, event_envelope, iso, msg_id_of, stored_messages

T = TypeVar("T")
LEVELS = (1, 2, 3)
DURABLES = testing.service_durables("reminders", subjects.EVENTS_STREAM, subjects.DECISIONS_STREAM)


def reminders_env(nats_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    # The consumer values must match the other test modules': the first runtime creates the durables.
    settings = testing.settings_for(RemindersSettings, nats_url, data_dir)
    return {**os.environ, **testing.settings_env(settings), "MAJOROPS_ESCALATION_INTERVAL": "PT1S", **extra}


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str, timeout: float = 20.0
) -> T:
    return await testing.eventually(probe, done, what, timeout, interval=0.1)


@dataclass
class ReminderProcess:
    """``python -m majorops.reminders`` with its log in a file."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "majorops.reminders"], env=self.env, stdout=log_file, stderr=log_file
            )

    async def started(self) -> None:
        async def log_text() -> str:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"reminders exited {self.process.returncode}: {self.log_path.read_text()}"
                )
            return self.log_path.read_text()

        await eventually(log_text, lambda text: '"reminders.started"' in text, "reminders started")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    def wait(self) -> int:
        assert self.process is not None
        return self.process.wait(20)

    async def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, 20)

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def processes(*procs: ReminderProcess) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            proc.cleanup()


@dataclass
class StreamReader:
    """Reads the escalations stream (escalations and heads-ups) from where a test began, incrementally."""

    js: JetStreamContext
    prefix: str
    next_seq: int = 1
    seen: list[tuple[str, str, datetime]] = field(default_factory=list)
    """(Nats-Msg-Id, subject, stored at) of every message of this test's incidents."""

    @classmethod
    async def from_now(cls, js: JetStreamContext, prefix: str) -> StreamReader:
        info = await js.stream_info(subjects.ESCALATIONS_STREAM)
        return cls(js, prefix, next_seq=info.state.last_seq + 1)

    async def read(self) -> list[tuple[str, str, datetime]]:
        for msg in await stored_messages(self.js, subjects.ESCALATIONS_STREAM, "majorops.>", self.next_seq):
            assert msg.seq is not None and msg.time is not None
            self.next_seq = msg.seq + 1
            if msg_id_of(msg).startswith(self.prefix):
                self.seen.append((msg_id_of(msg), msg.subject or "", msg.time))
        return self.seen


async def publish_action_items(
    js: JetStreamContext, incidents: list[str], per_incident: int, due: datetime
) -> list[str]:
    """One action item per obligation, all due at ``due``; the expected escalation and heads-up ids."""
    now = datetime.now(UTC)
    acks = []
    expected: list[str] = []
    for incident in incidents:
        for n in range(per_incident):
            item = f"AI-{n}"
            data = {"item_id": item, "title": f"Fix {n}", "owner": "Ravi", "due": iso(due)}
            body = event_envelope(incident, f"{incident}-{item}", "actionitem.created", now, data, "test")
            acks.append(
                await js.publish_async(
                    subjects.event_subject(incident, body["type"]),
                    json.dumps(body).encode(),
                    headers={"Nats-Msg-Id": body["id"]},
                )
            )
            expected.extend(f"{incident}:action_item_overdue:{item}:{level}" for level in LEVELS)
            expected.append(f"{incident}:action_item_due:{item}:heads_up")
    await asyncio.gather(*acks)
    return expected


async def reminders_settled(js: JetStreamContext) -> None:
    await consumers_settled(js, DURABLES, "reminders consumers settled")


async def pending_in_outbox(data_dir: Path) -> int:
    store = SqliteRemindersStore(data_dir / "reminders.sqlite3")
    await store.open()
    try:
        return len(await store.pending_notices(datetime.now(UTC) + timedelta(days=1), 10_000))
    finally:
        await store.close()


async def all_seen(reader: StreamReader, expected: list[str]) -> list[tuple[str, str, datetime]]:
    async def ids() -> set[str]:
        return {msg_id for msg_id, _, _ in await reader.read()}

    try:
        # Generous: what is asserted is exactly once, not speed (CI machines are shared).
        await eventually(ids, lambda got: got >= set(expected), f"{len(expected)} messages", timeout=60)
    except AssertionError:
        missing = sorted(set(expected) - await ids())
        raise AssertionError(
            f"{len(missing)} of {len(expected)} never published, e.g. {missing[:10]}"
        ) from None
    await asyncio.sleep(0.5)  # a duplicate published late would still show
    return await reader.read()


def assert_exactly_once(seen: list[tuple[str, str, datetime]], expected: list[str]) -> None:
    counts = Counter(msg_id for msg_id, _, _ in seen)
    doubled = {msg_id: n for msg_id, n in counts.items() if n > 1}
    assert doubled == {}, f"published more than once: {doubled}"
    assert sorted(counts) == sorted(expected)


async def test_killed_while_escalations_are_due_then_restarted_every_one_is_published_once(
    nats_url: str, js: JetStreamContext, nats_client: Any, data_dir: Path, tmp_path: Path
) -> None:
    nc: NATS = nats_client
    run = uuid.uuid4().hex[:6]
    incidents = [f"K-{run}-{n}" for n in range(40)]
    env = reminders_env(nats_url, data_dir)
    first = ReminderProcess(env, tmp_path / "first.log")
    second = ReminderProcess(env, tmp_path / "second.log")
    with processes(first, second):
        first.start()
        await first.started()
        reader = await StreamReader.from_now(js, f"K-{run}-")
        due = datetime.now(UTC) + timedelta(seconds=2.5)
        expected = await publish_action_items(js, incidents, 5, due)

        # SIGKILL the moment the first level-1 escalation goes out (a plain NATS subscription sees it
        # before JetStream's ack is back): the batch of 200 level-1s is claimed, part published, none
        # marked published yet.
        killed = asyncio.Event()

        async def kill_on_first(msg: Msg) -> None:
            if not killed.is_set() and msg.subject.startswith(f"{subjects.ESCALATIONS_ROOT}.K-{run}-"):
                killed.set()
                first.kill()

        watch = await nc.subscribe(f"{subjects.ESCALATIONS_ROOT}.>", cb=kill_on_first)
        await asyncio.wait_for(killed.wait(), 20)
        await watch.unsubscribe()
        at_kill = len(await reader.read())
        # Level 2 (and maybe 3) comes due while reminders is down; the new process fires them at once.
        await asyncio.to_thread(first.wait)
        interrupted = await pending_in_outbox(data_dir)
        # On a loaded machine the first level 1 (and so the kill) can come late: stay down until
        # level 2 is due, or the restart would not test what it means to.
        await asyncio.sleep(max(0.0, (due + timedelta(seconds=1.2) - datetime.now(UTC)).total_seconds()))
        second.start()
        await second.started()
        ready = datetime.now(UTC)
        seen = await all_seen(reader, expected)
        await reminders_settled(js)
        assert await second.terminate() == 0, second.log_path.read_text()

    assert at_kill < len(expected)
    assert interrupted > 0, "the kill did not fall between claiming and confirming a publish"
    assert_exactly_once(seen, expected)
    level_2 = [stored for msg_id, _, stored in seen if msg_id.endswith(":2")]
    assert len(level_2) == len(incidents) * 5
    assert due + timedelta(seconds=1) < ready, "level 2 did not come due while reminders was down"
    assert max(level_2) < ready + timedelta(seconds=1), "levels due while down were not fired at once"
    assert await pending_in_outbox(data_dir) == 0


async def test_two_replicas_never_publish_an_escalation_twice(
    nats_url: str, js: JetStreamContext, data_dir: Path, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    incidents = [f"R-{run}-{n}" for n in range(20)]
    replicas = [
        ReminderProcess(reminders_env(nats_url, data_dir, MAJOROPS_REPLICA=name), tmp_path / f"{name}.log")
        for name in ("a", "b")
    ]
    with processes(*replicas):
        for replica in replicas:
            replica.start()
        for replica in replicas:
            await replica.started()
        reader = await StreamReader.from_now(js, f"R-{run}-")
        due = datetime.now(UTC) + timedelta(seconds=1.5)
        expected = await publish_action_items(js, incidents, 10, due)
        seen = await all_seen(reader, expected)
        await reminders_settled(js)
        codes = [await replica.terminate() for replica in replicas]

    assert codes == [0, 0]
    assert len(expected) == 800  # 200 obligations: 3 levels and a heads-up each
    assert_exactly_once(seen, expected)
    assert await pending_in_outbox(data_dir) == 0


async def test_an_unreadable_escalation_interval_stops_the_service_at_start(tmp_path: Path) -> None:
    # Each way of being unreadable is in test_reminders_service_config; this is the process's answer.
    env = reminders_env("nats://127.0.0.1:1", tmp_path / "data", MAJOROPS_ESCALATION_INTERVAL="P1M")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "majorops.reminders"],
        env=env,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 78  # EX_CONFIG: a supervisor must not restart it in a loop
    stderr = result.stderr.decode()
    assert (
        "majorops reminders: refusing to start: MAJOROPS_ESCALATION_INTERVAL='P1M': escalation interval 'P1M' uses "
        "years or months, which have no fixed length" in stderr
    )
    assert not (tmp_path / "data").exists()  # nothing was started, not even the store
