"""Services as real processes: a SIGTERM before NATS is reachable stops one cleanly; HTTPS when configured."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
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
    env = {**os.environ, **settings_env(settings), "PYTHONFAULTHANDLER": "1"}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", f"majorops.{service}"], env=env, stdout=log_file, stderr=log_file
        )
        try:

            async def log_text() -> str:
                return log_path.read_text()

            await eventually(log_text, lambda text: f"{service}.starting" in text, f"{service} starting")
            process.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.to_thread(process.wait, DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGABRT)  # faulthandler: where every thread hangs
                await asyncio.to_thread(process.wait, 10)
                raise AssertionError(
                    f"no exit {DEADLINE_SECONDS} s after SIGTERM:\n{log_path.read_text()}"
                ) from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert code == 0, log_path.read_text()
    assert f"{service}.stopped" in log_path.read_text()


async def test_ingest_serves_https_with_the_files_its_settings_name(nats_url: str, tmp_path: Path) -> None:
    """MAJOROPS_HTTP_TLS_CERT/KEY: the API answers over TLS, verified against the certificate."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    port = unused_port()
    settings = settings_for(CommonSettings, nats_url, tmp_path / "data")
    env = {
        **os.environ,
        **settings_env(settings),
        "MAJOROPS_INGEST_PORT": str(port),
        "MAJOROPS_HTTP_TLS_CERT": str(cert),
        "MAJOROPS_HTTP_TLS_KEY": str(key),
    }
    log_path = tmp_path / "ingest.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "majorops.ingest"], env=env, stdout=log_file, stderr=log_file
        )
        try:
            async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert))) as http:

                async def ready() -> int:
                    try:
                        return (await http.get(f"https://127.0.0.1:{port}/readyz")).status_code
                    except httpx.HTTPError:
                        return 0

                await eventually(ready, lambda status: status == 200, "ingest over HTTPS")
                refused = await http.post(f"https://127.0.0.1:{port}/v1/events", json={})
                assert refused.status_code == 401
            with pytest.raises(httpx.HTTPError):
                async with httpx.AsyncClient() as plain:
                    await plain.get(f"http://127.0.0.1:{port}/healthz")
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, DEADLINE_SECONDS)
