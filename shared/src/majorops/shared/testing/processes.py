"""Time and processes: polling with a deadline, runtimes started in-process, services and
``majorops up`` as processes, and the processes a test left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from majorops.shared.testing.configuration import DEADLINE_SECONDS

T = TypeVar("T")

# --- time ------------------------------------------------------------------------------------------


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    what: str,
    timeout: float = DEADLINE_SECONDS,
    interval: float = 0.05,
) -> T:
    """Poll until ``done(probe())`` and return that value, or fail after ``timeout`` seconds showing
    the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last seen: {value!r}")
        await asyncio.sleep(interval)


class Runtime(Protocol):
    """A service runtime a test starts and stops in-process."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@asynccontextmanager
async def running(*runtimes: Runtime) -> AsyncIterator[None]:
    """Start the runtimes, and stop them all whatever the test did: the session's durables are shared,
    so a runtime left running would consume the next test's messages."""
    for runtime in runtimes:
        await runtime.start()
    try:
        yield
    finally:
        await asyncio.gather(*(runtime.stop() for runtime in runtimes))


class ServiceProcess:
    """A service running as its own process, as a container runs it, its output in a log file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    async def stop(self, timeout: float = DEADLINE_SECONDS) -> int:
        """Stop it as an orchestrator does (SIGTERM) and wait for it; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, timeout)

    def log_text(self) -> str:
        return self.log_path.read_text()


@asynccontextmanager
async def service_process(
    service: str, environment: Mapping[str, str], log_path: Path
) -> AsyncIterator[ServiceProcess]:
    """``python -m majorops.<service>`` with this environment (over the test's own), logging to
    ``log_path``; killed on the way out if the test did not stop it."""
    env = {**os.environ, **environment}
    with log_path.open("wb") as log_file:
        # Popen only starts it (it does not wait): nothing blocks the event loop.
        process = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", f"majorops.{service}"], env=env, stdout=log_file, stderr=log_file
        )
        try:
            yield ServiceProcess(process, log_path)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


async def http_ready(base: str, timeout: float = 30.0) -> None:
    """Wait until the service at ``base`` answers ``GET /readyz`` with 200."""
    import httpx  # a test dependency, loaded only by the tests that serve HTTP

    async with httpx.AsyncClient() as http:

        async def status() -> int:
            try:
                return (await http.get(f"{base}/readyz")).status_code
            except httpx.TransportError:
                return 0

        await eventually(status, lambda code: code == 200, f"{base} ready", timeout=timeout)


def up_command(data_dir: Path, nats_port: int, ingest_port: int, reports_port: int, *more: str) -> list[str]:
    """``majorops up`` (this environment's) on the given data dir and ports, with ``more`` options."""
    return [
        str(Path(sys.executable).parent / "majorops"),
        "up",
        *more,
        "--data-dir",
        str(data_dir),
        "--nats-port",
        str(nats_port),
        "--ingest-port",
        str(ingest_port),
        "--reports-port",
        str(reports_port),
    ]


def processes_of(data_dir: Path) -> dict[int, str]:
    """Every live process started for this data dir (services by env, nats-server by its config path)."""
    marker = str(data_dir.resolve())
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
            state = next(
                (ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("State:")), ""
            )
        except OSError:
            continue
        if "Z (zombie)" in state:
            continue
        if f"MAJOROPS_DATA_DIR={marker}" in environ or (marker in cmdline and "nats-server" in cmdline):
            found[int(entry.name)] = cmdline
    return found
