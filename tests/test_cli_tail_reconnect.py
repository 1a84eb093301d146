"""``majorops tail`` across a NATS restart: it says it lost NATS, connects again by itself and goes on
right after the last message it showed — each message once, none published meanwhile missed.

Its own nats-server from the wheel (no users, so the tail connects without a password), killed with
``kill -9`` and started again on the same port and store, as ``majorops up``'s supervisor does.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

from majorops.cli.natsserver import NatsServer, free_port
from majorops.shared.testing import connected_jetstream, contract_example_events, publish_event

MAJOROPS = shutil.which("majorops") or str(Path(__file__).resolve().parents[1] / ".venv/bin/majorops")


def publish(url: str, events: list[dict[str, object]]) -> None:
    async def run() -> None:
        async with connected_jetstream(url) as js:
            for event in events:
                await publish_event(js, event)

    asyncio.run(run())


class Lines:
    """A child's pipe read by a thread of its own, line by line (``select`` on a buffered text pipe
    would miss a line already in the buffer)."""

    def __init__(self, stream: IO[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.queue.put(line) for line in stream], daemon=True).start()

    def next(self, timeout: float, what: str) -> str:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout} s: {what}") from None

    def waiting(self) -> list[str]:
        return [self.queue.get_nowait() for _ in range(self.queue.qsize())]


def test_tail_goes_on_after_a_nats_restart_showing_each_event_once(tmp_path: Path) -> None:
    server = NatsServer(data_dir=tmp_path / "nats", port=free_port(), log_file=tmp_path / "nats.log")
    server.start()
    events = contract_example_events("TAIL-RESTART")  # alert, declared, …, closed: 4 or more events
    publish(server.url, [])  # the streams exist before the tail follows one
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAJOROPS_")}
    tail = subprocess.Popen(
        [MAJOROPS, "tail", "events", "--incident", "TAIL-RESTART", "--json", "--nats-url", server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,  # no credentials.env here: a server without users
    )
    try:
        assert tail.stdout is not None and tail.stderr is not None
        out, err = Lines(tail.stdout), Lines(tail.stderr)
        assert "following majorops.events.TAIL-RESTART.>" in err.next(20, "following")
        publish(server.url, events[:2])
        shown = [json.loads(out.next(10, f"event {n}"))["id"] for n in range(2)]

        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        assert "lost NATS" in err.next(20, "the loss said")
        time.sleep(2)  # a few attempts fail while nothing listens
        server.start()
        publish(server.url, events[2:])  # at once: maybe before the tail is back, maybe after
        assert "following again" in err.next(20, "following again")
        shown += [json.loads(out.next(10, f"event {n}"))["id"] for n in range(2, len(events))]
        assert shown == [event["id"] for event in events]

        time.sleep(1.5)  # nothing more comes: no message shown twice
        assert out.waiting() == []
        tail.send_signal(signal.SIGTERM)
        assert tail.wait(timeout=15) == 0
        time.sleep(0.2)
        assert not [line for line in err.waiting() if "Traceback" in line]
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
        server.stop()
