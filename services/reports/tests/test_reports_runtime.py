"""Reports stops promptly whenever it is asked to, even as its assembler is being woken up.

In CI one stop waited 300 s: on Python 3.11 ``asyncio.wait_for`` swallows a cancellation that lands
as the awaited wake-up completes, so an assembler stopped by cancelling it looped on (and its
durables went on taking the next tests' messages). This drives that moment on purpose, many times.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from majorops.reports.bootstrap import ReportsRuntime
from majorops.reports.config import ReportsSettings
from majorops.shared import testing


@pytest.mark.timeout(60)  # the bug hung the stop for good: fail, do not hang the suite
async def test_a_stop_right_after_a_wake_up_ends_within_seconds(nats_url: str, data_dir: Path) -> None:
    settings = testing.settings_for(ReportsSettings, nats_url, data_dir, assemble_delay_seconds=0.0)
    for attempt in range(20):
        runtime = ReportsRuntime(settings)
        await runtime.start()
        await asyncio.sleep(0.05 * (attempt % 4))  # the assembler waiting for a wake-up
        runtime._wake.set()  # an event recorded at this very moment
        await asyncio.wait_for(runtime.stop(), 15)
