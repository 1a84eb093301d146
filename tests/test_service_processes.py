"""Each broker-only service as a real process: a SIGTERM before NATS is reachable still stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from majorops.shared.settings import CommonSettings
from majorops.shared.testing import eventually, settings_env, settings_for, unused_port

DEADLINE_SECONDS = 20.0


@pytest.mark.parametrize("service", ["policy", "reminders"])
async def test_sigterm_while_nats_is_still_unreachable_stops_the_process_cleanly(
    service: str, tmp_path: Path
) -> None:
    log_path = tmp_path / f"{service}.log"
    # Nothing listens there: the process keeps trying to connect, as it would before NATS is up.
    settings = settings_for(CommonSettings, f"nats://127.0.0.1:{unused_port()}", tmp_path / "data")
    env = {**os.environ, **settings_env(settings)}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", f"majorops.{service}"], env=env, stdout=log_file, stderr=log_file
        )
        try:

            async def log_text() -> str:
                return log_path.read_text()

            await eventually(log_text, lambda text: f"{service}.starting" in text, f"{service} starting")
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, DEADLINE_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert code == 0, log_path.read_text()
    assert f"{service}.stopped" in log_path.read_text()
