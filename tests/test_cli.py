"""The `majorops` command's own behaviour: flags, refusals with a clear message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from majorops.cli.natsserver import free_port
from majorops.cli.up_settings import UpSettings
from majorops.ingest.config import IngestSettings
from majorops.policy.config import PolicySettings
from majorops.reminders.config import RemindersSettings
from majorops.reports.config import ReportsSettings
from majorops.shared.testkit import modules_loaded_by_cli

MAJOROPS = str(Path(sys.executable).parent / "majorops")


def run(*args: str, timeout: float = 30, **settings: str) -> subprocess.CompletedProcess[str]:
    """``majorops *args`` with ``settings`` (``MAJOROPS_…=value``) added to this environment."""
    env = {**os.environ, **settings}
    return subprocess.run(
        [MAJOROPS, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def up_on_free_ports(data_dir: Path, ingest_port: int | None = None) -> list[str]:
    """``up`` on ``data_dir`` with free ports (or the given ``ingest_port``)."""
    ingest = free_port() if ingest_port is None else ingest_port
    ports = [
        "--nats-port",
        str(free_port()),
        "--ingest-port",
        str(ingest),
        "--reports-port",
        str(free_port()),
    ]
    return ["up", "--data-dir", str(data_dir), *ports]


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
        result = run(*up_on_free_ports(tmp_path / "d", ingest_port=port))
    assert result.returncode != 0
    assert f"port {port} (ingest)" in result.stderr + result.stdout
    assert not (tmp_path / "d" / "nats").exists(), "nothing should have been started"


def test_up_rejects_an_invalid_port(tmp_path: Path) -> None:
    result = run("up", "--data-dir", str(tmp_path), "--ingest-port", "70000")
    assert result.returncode != 0
    assert "--ingest-port must be 1..65535" in result.stderr


def test_up_stops_when_a_service_refuses_its_configuration(tmp_path: Path) -> None:
    """An unknown time zone: policy exits 78 and `majorops up` stops instead of restarting it forever."""
    result = run(*up_on_free_ports(tmp_path / "d"), timeout=60, MAJOROPS_TIMEZONE="Mars/Olympus_Mons")
    assert result.returncode == 78, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "refus" in said and "Mars/Olympus_Mons" in said, said
    assert "Mars/Olympus_Mons" in (tmp_path / "d" / "logs" / "policy.log").read_text()


SERVICE_SETTINGS: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "policy": PolicySettings,
    "reminders": RemindersSettings,
    "reports": ReportsSettings,
    "up": UpSettings,
}


def entry_of(help_text: str, variable: str) -> str:
    """The help's entry for one variable: its line and the description lines under it."""
    lines = help_text.splitlines()
    [start] = [n for n, line in enumerate(lines) if line.strip().startswith(f"{variable}  ")]
    end = start + 1
    while end < len(lines) and lines[end].startswith("      "):
        end += 1
    return "\n".join(lines[start:end])


def test_reminders_help_lists_the_settings_it_reads_with_their_defaults() -> None:
    result = run("reminders", "--help")
    assert result.returncode == 0, result.stderr
    assert "(default: PT24H)" in entry_of(result.stdout, "MAJOROPS_ESCALATION_INTERVAL")
    assert "(default: nats://127.0.0.1:4222)" in entry_of(result.stdout, "MAJOROPS_NATS_URL")
    assert "JSON" in entry_of(result.stdout, "MAJOROPS_WEBHOOK_URLS")


@pytest.mark.parametrize("command", sorted(SERVICE_SETTINGS))
def test_help_lists_every_field_of_the_settings_model_with_its_description(command: str) -> None:
    """Derived from the model: a setting added to a service's config.py shows up, or this fails."""
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for name, info in SERVICE_SETTINGS[command].model_fields.items():
        variable = f"MAJOROPS_{name.upper()}"
        assert info.description, f"{variable} has no description (Field(description=...))"
        entry = " ".join(entry_of(result.stdout, variable).split())
        assert "(default: " in entry
        assert " ".join(info.description.split()) in text, f"{variable}'s description is not shown"


@pytest.mark.parametrize("command", ["--help", "reports --help", "up --help", "send --help", "tail --help"])
def test_help_loads_neither_the_broker_nor_the_web_framework(command: str) -> None:
    heavy = ("faststream", "nats", "uvicorn", "fastapi", "pymongo", "aiosqlite", "httpx")
    assert modules_loaded_by_cli(command.split(), heavy)[-1] == "[]"


def test_up_refuses_an_unusable_log_setting_before_starting_anything(tmp_path: Path) -> None:
    result = run("up", "--data-dir", str(tmp_path / "d"), MAJOROPS_LOG_MAX_BYTES="lots")
    assert result.returncode == 78, result.stdout + result.stderr
    assert "MAJOROPS_LOG_MAX_BYTES='lots'" in result.stderr
    assert not (tmp_path / "d").exists(), "nothing should have been started"


def test_up_refuses_a_sync_interval_it_cannot_give_nats(tmp_path: Path) -> None:
    result = run("up", "--data-dir", str(tmp_path / "d"), "--nats-sync-interval", "sometimes")
    assert result.returncode != 0
    assert "'always', 'default' or a duration" in result.stderr
    assert not (tmp_path / "d").exists(), "nothing should have been started"
