"""What keeps a service going or gets it replaced: a log write that fails is counted and dropped,
never raised; a loop that stalls or dies makes /readyz say so by name, and the watchdog ends the
process once the loop cannot recover."""

from __future__ import annotations

import asyncio
import io
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
from faststream.nats import NatsBroker
from prometheus_client import generate_latest

from majorops.shared.heartbeat import EX_SOFTWARE, MIN_STALE_SECONDS, Heartbeat, Watchdog, bounds_for
from majorops.shared.logging import LOG_FILE_MODE, RotatingLogFile, configure_logging, log_write_failures
from majorops.shared.probes import ProbeServer, probe_app
from majorops.shared.telemetry import telemetry_of
from majorops.shared.testing import http_get, metric, unused_port


@pytest.fixture
def tiny_disk(tmp_path: Path, tmpfs: Callable[[Path, str], Path]) -> Path:
    """A 256 KiB tmpfs (skipped only where the kernel refuses to mount one)."""
    return tmpfs(tmp_path / "tiny", "256k")


def fill_up(path: Path) -> None:
    with open(path, "wb", buffering=0) as filler:
        for size in (1 << 14, 1):
            try:
                while True:
                    filler.write(b"\0" * size)
            except OSError:
                continue


def test_a_log_file_on_a_full_disk_drops_and_counts_lines_and_writes_again_once_freed(
    tiny_disk: Path,
) -> None:
    path = tiny_disk / "svc.log"
    log_file = RotatingLogFile(path, max_bytes=1 << 20, backups=1, redirect_fds=()).open()
    assert stat.S_IMODE(path.stat().st_mode) == LOG_FILE_MODE == 0o600
    configure_logging("svc", stream=log_file)  # type: ignore[arg-type]
    log = structlog.get_logger("test")
    log.info("before.full")
    fill_up(tiny_disk / "filler")
    failures = log_write_failures()
    for n in range(50):  # what raised OSError [Errno 28] in a scheduler's loop before
        log.info("while.full", n=n, pad="x" * 200)
    assert log_write_failures() > failures
    (tiny_disk / "filler").unlink()
    log.info("after.freed")
    log_file.close()
    text = path.read_text()
    assert '"before.full"' in text and '"after.freed"' in text
    exposed = generate_latest(telemetry_of(NatsBroker()).registry).decode()
    assert metric(exposed, "majorops_log_write_failures_total") == log_write_failures()


def test_a_log_file_found_readable_by_others_is_narrowed_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "old.log"
    path.write_text("")
    path.chmod(0o644)
    RotatingLogFile(path, max_bytes=1000, backups=1, redirect_fds=()).open().close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_logging_to_a_stream_that_fails_never_raises() -> None:
    # Every write to /dev/full fails with ENOSPC; unbuffered, so that each fails at once.
    with io.TextIOWrapper(open("/dev/full", "wb", buffering=0), write_through=True) as full:
        configure_logging("svc", stream=full)
        before = log_write_failures()
        structlog.get_logger("test").info("dropped")
        assert log_write_failures() > before


def test_bounds_come_from_the_loops_own_wait_and_refuse_nonsense() -> None:
    assert bounds_for(1.0) == (MIN_STALE_SECONDS, 2 * MIN_STALE_SECONDS)
    assert bounds_for(35.0) == (105.0, 210.0)
    with pytest.raises(ValueError, match="longest turn must be positive: 0"):
        bounds_for(0)


async def test_readyz_names_a_stalled_loop_and_a_dead_one_and_the_watchdog_ends_the_process() -> None:
    broker = NatsBroker()
    heartbeats = telemetry_of(broker).heartbeats
    stalled = heartbeats.add(Heartbeat("consumer policy-events", stale_after=0.2, fatal_after=60))
    dying = heartbeats.add(Heartbeat("reminders scheduler", stale_after=60, fatal_after=120))

    async def forever() -> None:
        await asyncio.Event().wait()

    async def fail() -> None:
        raise OSError(28, "No space left on device")

    async def checks() -> dict[str, bool]:
        return {"loops": not heartbeats.problems()}

    stalled.watch(asyncio.create_task(forever()))
    async with ProbeServer(probe_app(broker, checks), "127.0.0.1", unused_port()) as probes:
        assert (await http_get(f"{probes.url}/readyz")).status_code == 200
        await asyncio.sleep(0.3)  # no turn of the consumer's loop completes
        dying.watch(asyncio.create_task(fail()))
        await asyncio.sleep(0.05)
        answer = await http_get(f"{probes.url}/readyz")
        assert answer.status_code == 503
        why = answer.json()["stalled"]
        assert why["consumer policy-events"].startswith("no turn completed for ")
        assert why["consumer policy-events"].endswith(" s (stalled after 0 s)")
        assert why["reminders scheduler"] == "ended: OSError: [Errno 28] No space left on device"

        exits: list[int] = []
        watchdog = Watchdog(heartbeats, period=0.05, exit_process=exits.append).start()
        await asyncio.sleep(0.3)
        watchdog.stop()
        assert exits == [EX_SOFTWARE]

        stalled.beat()
        dying.unwatch()  # stopped on purpose: not a fault
        assert (await http_get(f"{probes.url}/readyz")).status_code == 200
    stalled.unwatch()
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        task.cancel()
