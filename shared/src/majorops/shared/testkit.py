"""What several test files (and the benchmarks) do the same way: run ``majorops up`` as a user runs it
and wait for what it promises, so each test reads as the behaviour it checks and one fix reaches them
all. Like :mod:`majorops.shared.testing`, nothing here imports pytest or a service.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import nats
from nats.aio.client import Client

from majorops.shared.probes import ProbeServer
from majorops.shared.testing import bearer, processes_of, unused_port, up_command

WAITED_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, OSError, sqlite3.Error)
"""What a poll of a system that is starting or restarting may raise before it answers."""


def wait_for(predicate: Callable[..., Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` every 0.2 s until it returns something true (returned), passing over
    :data:`WAITED_ERRORS`; fail saying ``what`` was awaited and the last answer."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except WAITED_ERRORS:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@asynccontextmanager
async def connected_nats(url: str) -> AsyncIterator[Client]:
    """A NATS connection to ``url``, drained on the way out (what a producer does when it stops)."""
    connection = await nats.connect(url)
    try:
        yield connection
    finally:
        await connection.drain()


class HasProbes(Protocol):
    def probes(self) -> ProbeServer | None: ...


@asynccontextmanager
async def serving_probes(runtime: HasProbes) -> AsyncIterator[ProbeServer]:
    """The runtime's probe server (it must have one), serving until the block ends."""
    probes = runtime.probes()
    assert probes is not None
    async with probes:
        yield probes


@asynccontextmanager
async def app_client(
    app: Any, token: str, base_url: str, timeout: float | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a service's ASGI ``app`` with ``token``, the app's lifespan running around it."""
    options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            headers=bearer(token), transport=httpx.ASGITransport(app=app), base_url=base_url, **options
        ) as http:
            yield http


class Openable(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...


OpenableT = TypeVar("OpenableT", bound=Openable)


@asynccontextmanager
async def opened(store: OpenableT) -> AsyncIterator[OpenableT]:
    """``store`` opened for the block and closed after it, whatever the block raises."""
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def modules_loaded_by_cli(argv: Sequence[str], watched: Sequence[str], first: str = "") -> list[str]:
    """What a fresh interpreter prints running ``first`` (Python that may print lines of its own), then
    ``majorops *argv`` in-process (its exit passed over), then the sorted list of the ``watched``
    modules loaded by then; the last line is that list. It must exit 0."""
    script = (
        "import sys\n"
        + first
        + "from majorops.cli.main import main\n"
        + f"try:\n    main({list(argv)!r})\nexcept SystemExit:\n    pass\n"
        + f"print(sorted(m for m in {tuple(watched)!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def environment_of_up(settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without its ``MAJOROPS_*`` settings, plus ``settings``: what a
    test's ``majorops up`` sees, whatever the developer's shell exports."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("MAJOROPS_")}
    return {**kept, **(settings or {})}


@dataclass
class UpPlaces:
    """Where one ``majorops up`` lives: a scratch data dir and free loopback ports."""

    data_dir: Path
    nats_port: int = field(default_factory=unused_port)
    ingest_port: int = field(default_factory=unused_port)
    reports_port: int = field(default_factory=unused_port)
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def ingest(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def reports(self) -> str:
        return f"http://127.0.0.1:{self.reports_port}"

    def logs(self, tail: int = 3000) -> str:
        """The last ``tail`` characters of each service's log file, for a failure's message."""
        out = []
        for path in sorted((self.data_dir / "logs").glob("*.log")):
            out.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-tail:])
        return "\n".join(out)


@dataclass
class UpProcess(UpPlaces):
    """``majorops up`` in a subprocess, as a user runs it."""

    env: dict[str, str] = field(default_factory=dict)
    """``MAJOROPS_*`` settings of this test (every other one from the caller's environment is dropped)."""

    def start(self, *options: str, timeout: float = 60.0) -> float:
        """Start (with ``options`` after ``up``) and wait for the "ready" line; the seconds it took."""
        began = time.monotonic()
        self.process = subprocess.Popen(
            up_command(self.data_dir, self.nats_port, self.ingest_port, self.reports_port, *options),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment_of_up(self.env),
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if line.startswith("ready"):
                return time.monotonic() - began
        command = " ".join(("majorops up", *options))
        raise AssertionError(f"{command} did not get ready:\n" + "".join(self.output) + self.logs())

    def stop_output(self) -> str:
        """Stop and return what was printed after the "ready" line."""
        self.stop()
        return "".join(self.output)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as Ctrl-C in a terminal, and the exit code; killed if it outlasts ``timeout``."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self.output.append(rest)
        return self.process.returncode

    def reap(self) -> None:
        """After a test: stop it if it still runs, and kill whatever it left behind in its data dir."""
        if self.process is not None and self.process.poll() is None:
            self.stop()
        for pid in processes_of(self.data_dir):
            os.kill(pid, signal.SIGKILL)
