"""Fixtures of the end-to-end tests: the whole system as a user runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from majorops.shared.testkit import UpProcess


@pytest.fixture
def up(tmp_path: Path) -> Iterator[UpProcess]:
    """``majorops up`` on free ports in a scratch data dir, not started; stopped (and whatever it left
    behind killed) after the test."""
    system = UpProcess(data_dir=tmp_path / "majorops")
    yield system
    system.reap()
