"""The `majorops` command's own behaviour: flags, refusals with a clear message."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from majorops.cli.natsserver import free_port

MAJOROPS = str(Path(sys.executable).parent / "majorops")


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MAJOROPS, *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_help_lists_up_and_every_service() -> None:
    result = run("--help")
    assert result.returncode == 0
    for word in ("up", "ingest", "policy", "reminders", "reports"):
        assert word in result.stdout


def test_up_refuses_a_port_in_use_and_says_which(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(
            "up",
            "--data-dir",
            str(tmp_path / "d"),
            "--nats-port",
            str(free_port()),
            "--ingest-port",
            str(port),
            "--reports-port",
            str(free_port()),
        )
    assert result.returncode != 0
    assert f"port {port} (ingest)" in result.stderr + result.stdout
    assert not (tmp_path / "d" / "nats").exists(), "nothing should have been started"


def test_up_rejects_an_invalid_port(tmp_path: Path) -> None:
    result = run("up", "--data-dir", str(tmp_path), "--ingest-port", "70000")
    assert result.returncode != 0
    assert "--ingest-port must be 1..65535" in result.stderr


def test_up_stops_when_a_service_refuses_its_configuration(tmp_path: Path) -> None:
    """An unknown time zone: policy exits 78 and `majorops up` stops instead of restarting it forever."""
    import os

    env = {**os.environ, "MAJOROPS_TIMEZONE": "Mars/Olympus_Mons"}
    result = subprocess.run(
        [
            MAJOROPS,
            "up",
            "--data-dir",
            str(tmp_path / "d"),
            "--nats-port",
            str(free_port()),
            "--ingest-port",
            str(free_port()),
            "--reports-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 78, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "refus" in said and "Mars/Olympus_Mons" in said, said
    assert "Mars/Olympus_Mons" in (tmp_path / "d" / "logs" / "policy.log").read_text()
