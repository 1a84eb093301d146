"""The secrets `majorops up` generates on first start, keeps private, and takes from the environment."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from majorops.cli.credentials import ISSUED, load_or_generate, read_env_file
from majorops.cli.natsserver import free_port
from majorops.shared.access import parse_tokens

GIVEN = "ci:given-by-the-operator-0123"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_generates_a_private_file_and_later_starts_keep_it(tmp_path: Path) -> None:
    first = load_or_generate(tmp_path, {}, embedded_nats=True)
    path = tmp_path / "credentials.env"
    assert first.path == path and mode(path) == 0o600
    assert {i.setting for i in ISSUED} <= set(first.generated)
    stored = read_env_file(path)
    for issued in ISSUED:
        if issued.token_name is not None:
            [token] = parse_tokens(first.settings[issued.setting], issued.setting)
            assert (token.name, token.secret) == (issued.token_name, stored[issued.shell])
    assert set(first.nats_passwords) == {"admin", "ingest", "policy", "reminders", "reports", "replicator"}
    assert len({*first.nats_passwords.values(), *(stored[i.shell] for i in ISSUED)}) == 10  # all different

    again = load_or_generate(tmp_path, {}, embedded_nats=True)
    assert again.generated == [] and again.settings == first.settings
    assert again.nats_passwords == first.nats_passwords
    assert read_env_file(path) == stored


def test_a_file_someone_widened_is_made_private_again(tmp_path: Path) -> None:
    load_or_generate(tmp_path, {}, embedded_nats=False)
    os.chmod(tmp_path / "credentials.env", 0o644)
    load_or_generate(tmp_path, {}, embedded_nats=False)
    assert mode(tmp_path / "credentials.env") == 0o600


def test_a_setting_in_the_environment_wins_and_is_not_written_down(tmp_path: Path) -> None:
    creds = load_or_generate(tmp_path, {"MAJOROPS_INGEST_TOKENS": GIVEN}, embedded_nats=False)
    assert creds.settings["MAJOROPS_INGEST_TOKENS"] == GIVEN
    assert creds.from_environment == ["MAJOROPS_INGEST_TOKENS"]
    text = (tmp_path / "credentials.env").read_text()
    assert "given-by-the-operator" not in text and "INGEST_TOKEN=" not in text
    assert "REPORTS_WRITE_TOKEN=" in text


def test_a_malformed_setting_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MAJOROPS_INGEST_TOKENS entry 1") as caught:
        load_or_generate(tmp_path, {"MAJOROPS_INGEST_TOKENS": "ci:tooshort"}, embedded_nats=False)
    assert "tooshort" not in str(caught.value)


def test_majorops_up_refuses_a_malformed_token_with_exit_78_and_keeps_it_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAJOROPS_")}
    env["MAJOROPS_REPORTS_WRITE_TOKENS"] = "editor:has a space in the secret"
    ports = [str(free_port()) for _ in range(3)]
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "majorops"),
            "up",
            "--data-dir",
            str(tmp_path / "d"),
            "--nats-port",
            ports[0],
            "--ingest-port",
            ports[1],
            "--reports-port",
            ports[2],
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 78
    assert "MAJOROPS_REPORTS_WRITE_TOKENS entry 1 (editor): the secret must be" in done.stderr
    assert "has a space" not in done.stderr + done.stdout
