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
