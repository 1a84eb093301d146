"""Logs a person can read: whole lines in size-rotated files, a marker line per run, secrets hidden,
library tracebacks as text, and a broker that vanished during a stop as a warning, not an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
from nats.errors import ConnectionClosedError, ConnectionReconnectingError
from pydantic import SecretStr

from majorops.shared.lifecycle import stop_broker
from majorops.shared.logging import RUN_STARTED, RotatingLogFile
from majorops.shared.settings import EX_CONFIG, CommonSettings, load_settings, parse_size
from majorops.shared.settings_display import settings_summary


def lines_of(*paths: Path) -> list[str]:
    return [line for path in paths if path.exists() for line in path.read_text().splitlines()]


def test_a_log_over_the_limit_rotates_keeping_whole_lines_and_the_newest_files(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    log = RotatingLogFile(path, max_bytes=1000, backups=2, redirect_fds=()).open()
    for n in range(200):
        log.write(json.dumps({"n": n, "pad": "x" * 60}) + "\n")
    log.close()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["svc.log", "svc.log.1", "svc.log.2"]
    for file in (path, log.backup(1), log.backup(2)):
        assert file.stat().st_size < 1000 + 100, f"{file.name} grew past the limit by more than a line"
    kept = [json.loads(line)["n"] for line in lines_of(log.backup(2), log.backup(1), path)]
    assert kept == list(range(kept[0], 200)), "lines lost or split inside what was kept"
    assert kept[0] > 0, "the oldest lines were dropped"


def test_a_file_already_over_the_limit_is_rotated_before_the_run_writes(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    path.write_text("old run\n" * 200)
    (tmp_path / "svc.log.1").write_text("older run\n")
    (tmp_path / "svc.log.4").write_text("left from a larger MAJOROPS_LOG_BACKUPS\n")
    log = RotatingLogFile(path, max_bytes=1024, backups=2, redirect_fds=()).open()
    log.write("new run\n")
    log.close()
    assert path.read_text() == "new run\n"
    assert log.backup(1).read_text().startswith("old run")
    assert log.backup(2).read_text() == "older run\n"
    assert not log.backup(4).exists()


def test_no_backups_starts_the_file_over(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    log = RotatingLogFile(path, max_bytes=100, backups=0, redirect_fds=()).open()
    for n in range(30):
        log.write(f"line {n:03d}\n")
    log.close()
    assert [p.name for p in tmp_path.iterdir()] == ["svc.log"]
    assert path.stat().st_size < 100
    assert path.read_text().endswith("line 029\n")


def test_redirected_descriptors_follow_the_current_file(tmp_path: Path) -> None:
    """What bypasses logging (an interpreter traceback on fd 2) lands in the current file too."""
    path = tmp_path / "svc.log"
    spare = os.open(tmp_path / "elsewhere", os.O_WRONLY | os.O_CREAT)
    try:
        log = RotatingLogFile(path, max_bytes=50, backups=1, redirect_fds=(spare,)).open()
        log.write("a" * 60 + "\n")  # over the limit: rotated after this line
        os.write(spare, b"raw write\n")
        log.close()
    finally:
        os.close(spare)
    assert path.read_text() == "raw write\n"
    assert log.backup(1).read_text() == "a" * 60 + "\n"


@pytest.mark.parametrize(("given", "size"), [("4096", 4096), ("10MiB", 10 * 2**20), ("512 kb", 512 * 1024)])
def test_sizes_read_with_binary_units(given: str, size: int) -> None:
    assert parse_size(given) == size


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAJOROPS_LOG_MAX_BYTES", "ten megs"),
        ("MAJOROPS_LOG_MAX_BYTES", "12"),
        ("MAJOROPS_LOG_BACKUPS", "-1"),
    ],
)
def test_an_unusable_log_setting_refuses_with_exit_78(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exit_:
        load_settings(CommonSettings, "policy")
    assert exit_.value.code == EX_CONFIG
    assert f"{variable}={value!r}" in capsys.readouterr().err


def test_the_summary_of_a_run_hides_secrets() -> None:
    class WithSecrets(CommonSettings):
        webhook_urls: str = ""
        webhook_secret: SecretStr = SecretStr("")
        api_token: str = ""

    settings = WithSecrets(
        mongodb_url="mongodb://app:hunter2@db:27017/majorops?tls=true",
        nats_url="nats://s3cr3t@nats:4222",
        webhook_urls="https://hooks.slack.com/services/T0/B0/XYZ,https://example.com/hook?key=abc",
        webhook_secret=SecretStr("whsec_c2VjcmV0"),
        api_token="tok-123",
    )
    summary = settings_summary(settings)
    text = json.dumps(summary)
    for secret in ("hunter2", "s3cr3t", "XYZ", "abc", "whsec_", "tok-123"):
        assert secret not in text
    assert summary["mongodb_url"] == "mongodb://app:***@db:27017/…"
    assert summary["nats_url"] == "nats://***@nats:4222"
    assert summary["webhook_urls"] == "https://hooks.slack.com/…,https://example.com/…"
    assert summary["timezone"] == "UTC"


def test_a_service_log_file_starts_with_the_run_marker_and_takes_everything_the_process_writes(
    tmp_path: Path,
) -> None:
    log_file = tmp_path / "logs" / "policy.log"
    script = """
import logging, sys
from majorops.shared.logging import start_logging
from majorops.shared.settings import CommonSettings, load_settings
start_logging("policy", load_settings(CommonSettings, "policy"))
try:
    raise ValueError("a real error")
except ValueError:
    logging.getLogger("some.library").exception("library failed")
print("raw stdout", flush=True)
sys.stderr.write("raw stderr\\n")
"""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MAJOROPS_")},
        "MAJOROPS_LOG_FILE": str(log_file),
        "MAJOROPS_MONGODB_URL": "mongodb://app:hunter2@db:27017",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == done.stderr == "", "everything goes to the log file"
    lines = log_file.read_text().splitlines()
    marker = json.loads(lines[0])
    assert marker["event"] == RUN_STARTED
    assert marker["service"] == "policy"
    assert isinstance(marker["pid"], int)
    assert marker["version"]
    assert marker["settings"]["log_file"] == str(log_file)
    assert "hunter2" not in log_file.read_text()
    failure = json.loads(lines[1])
    assert failure["event"] == "library failed"
    assert "Traceback" in failure["exception"] and "ValueError: a real error" in failure["exception"]
    assert lines[2:] == ["raw stdout", "raw stderr"]


class FakeConnection:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class FakeBroker:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.connection = FakeConnection()

    async def stop(self) -> None:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionReconnectingError(),
        ConnectionClosedError(),
        ExceptionGroup("Failed to stop subscribers", [ConnectionClosedError()]),
    ],
)
async def test_a_broker_gone_before_the_drain_is_closed_with_a_warning(error: Exception) -> None:
    broker = FakeBroker(error)
    with structlog.testing.capture_logs() as logged:
        await stop_broker(broker)  # type: ignore[arg-type]
    assert broker.connection.closed
    assert [entry["log_level"] for entry in logged] == ["warning"]
    assert logged[0]["event"] == "nats.gone_at_stop"


async def test_any_other_failure_to_stop_the_broker_is_raised() -> None:
    errors: list[Any] = [
        RuntimeError("disk full"),
        ExceptionGroup("x", [ConnectionClosedError(), KeyError("k")]),
    ]
    for error in errors:
        with pytest.raises(type(error)):
            await stop_broker(FakeBroker(error))  # type: ignore[arg-type]


def test_a_line_written_in_pieces_is_not_split_by_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    log = RotatingLogFile(path, max_bytes=100, backups=3, redirect_fds=()).open()
    for n in range(20):
        log.write(f"piece one of line {n:02d} " + "x" * 20)  # over the limit before the line ends
        log.write("\n")
    log.close()
    for file in [path, *tmp_path.glob("svc.log.*")]:
        assert all(line.startswith("piece one of line") for line in file.read_text().splitlines())


def test_lines_written_in_a_span_carry_its_trace_and_spans_go_to_the_configured_collector(
    tmp_path: Path,
) -> None:
    """``MAJOROPS_OTEL_EXPORTER_OTLP_ENDPOINT`` sends spans over OTLP/HTTP (here to a stand-in
    collector), and every log line written while a span is active — structlog's and a library's —
    names its ``trace_id`` and ``span_id``."""
    import http.server
    import threading

    received: list[tuple[str, str]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, self.headers["content-type"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = """
import logging, structlog
from opentelemetry import trace
from majorops.shared.logging import start_logging
from majorops.shared.settings import CommonSettings, load_settings
start_logging("policy", load_settings(CommonSettings, "policy"))
log = structlog.get_logger("t")
log.info("outside")
with trace.get_tracer("t").start_as_current_span("work") as span:
    log.info("inside", incident_id="INC-1")
    logging.getLogger("some.library").warning("library inside")
    print(format(span.get_span_context().trace_id, "032x"), format(span.get_span_context().span_id, "016x"))
trace.get_tracer_provider().shutdown()
"""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MAJOROPS_", "OTEL_"))},
        "MAJOROPS_OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    trace_id, span_id = done.stdout.split()
    lines = {line["event"]: line for line in map(json.loads, done.stderr.splitlines())}
    assert lines[RUN_STARTED]["traces_to"] == f"http://127.0.0.1:{server.server_port}/…"
    assert "trace_id" not in lines["outside"]
    for inside in ("inside", "library inside"):
        assert (lines[inside]["trace_id"], lines[inside]["span_id"]) == (trace_id, span_id)
    assert lines["inside"]["incident_id"] == "INC-1"
    assert received == [("/v1/traces", "application/x-protobuf")]
