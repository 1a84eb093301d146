"""A real Prometheus Alertmanager (Debian's ``prometheus-alertmanager``) posting to ``majorops up``.

Alerts are fired and resolved with ``amtool``; Alertmanager notifies ingest's
``/v1/webhooks/alertmanager`` with the token of ``credentials.env``, as docs/alertmanager.md
configures it, and the Learning Review must show each alert event exactly once whatever
Alertmanager repeats or retries:

- ``repeat_interval``: the same notification again, counted as duplicates;
- a connection refused while ingest restarts, and a ``5xx`` after ingest stored the events (the
  answer lost on the way back): retried by Alertmanager, the retry counted as duplicates;
- a ``401`` (a wrong token): not retried within the notification, but the notification is attempted
  again at every ``group_interval`` (Alertmanager logged none as sent); nothing recorded until the
  token is fixed, then the alert arrives.

``make test`` (and ``.ci/run``) install the package with apt when it is missing; without it these
tests fail saying so, they are not skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from majorops.cli.natsserver import free_port
from majorops.shared.testing import processes_of
from majorops.shared.testkit import UpProcess as Up
from majorops.shared.testkit import wait_for
from tests.test_e2e_up import review, service_pid, token

pytestmark = pytest.mark.e2e

INSTALL = "apt-get install -y --no-install-recommends prometheus-alertmanager"
COUNTERS = (
    "alertmanager_notifications_total",
    "alertmanager_notifications_failed_total",
    "alertmanager_notification_requests_total",
    "alertmanager_notification_requests_failed_total",
)
"""Alertmanager's own counters of its webhook integration: notifications, and HTTP attempts."""


def binaries() -> tuple[str, str]:
    """Alertmanager (Debian names it ``prometheus-alertmanager``, upstream ``alertmanager``) and amtool."""
    server = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    amtool = shutil.which("amtool")
    if server is None or amtool is None:
        pytest.fail(
            "Prometheus Alertmanager is not installed (no prometheus-alertmanager or alertmanager, or no "
            f"amtool, on PATH). `make test` and .ci/run install it with `{INSTALL}` when apt-get is usable "
            "(as root or with passwordless sudo); see what `make test` printed, or install it yourself.",
            pytrace=False,
        )
    return server, amtool


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Alertmanager:
    """One Alertmanager process of a test: its own config, storage, port, no cluster (no gossip)."""

    work: Path
    server: str
    amtool: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.work / "alertmanager.yml"

    @property
    def log_path(self) -> Path:
        return self.work / "alertmanager.log"

    def configure(self, webhook_url: str, credentials: str, repeat_interval: str = "1h") -> str:
        """Route everything to one webhook receiver; notify 1 s after the first alert, then every
        second while the group changes (the shortest Alertmanager allows is above zero)."""
        config = f"""\
route:
  receiver: majorops
  group_by: [alertname, incident_id]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: {repeat_interval}
receivers:
  - name: majorops
    webhook_configs:
      - url: {json.dumps(webhook_url)}
        send_resolved: true
        max_alerts: 500
        http_config:
          authorization:
            credentials: {json.dumps(credentials)}
"""
        self.config_path.write_text(config)
        self.config_path.chmod(0o600)
        return config

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.server,
                    f"--config.file={self.config_path}",
                    f"--storage.path={self.work / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                    "--log.level=debug",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            assert self.process is not None and self.process.poll() is None, "Alertmanager exited"
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200

        wait_for(ready, 15, f"Alertmanager ready at {self.url}")

    def reload(self) -> None:
        assert httpx.post(f"{self.url}/-/reload", timeout=5).status_code == 200, self.log()

    def alert(
        self, labels: dict[str, str], summary: str, start: datetime, end: datetime | None = None
    ) -> None:
        """``amtool alert add``: fire (no end) or resolve (an end in the past) an alert."""
        command = [
            self.amtool,
            f"--alertmanager.url={self.url}",
            "alert",
            "add",
            *(f"{name}={value}" for name, value in labels.items()),
            f"--annotation=summary={summary}",
            f"--start={rfc3339(start)}",
        ]
        if end is not None:
            command.append(f"--end={rfc3339(end)}")
        done = subprocess.run(command, capture_output=True, text=True, timeout=15, check=False)
        assert done.returncode == 0, f"amtool: {done.stdout}{done.stderr}"

    def counters(self) -> dict[str, float]:
        """Alertmanager's counters of its webhook integration."""
        found: dict[str, float] = {}
        for line in httpx.get(f"{self.url}/metrics", timeout=5).text.splitlines():
            name, _, rest = line.partition("{")
            if name in COUNTERS and rest.startswith('integration="webhook"}'):
                found[name] = float(rest.rsplit(" ", 1)[1])
        return found

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One ``majorops up`` for this module's tests; each test uses incidents of its own."""
    binaries()  # fail before starting anything when Alertmanager is missing
    system = Up(data_dir=tmp_path_factory.mktemp("am") / "majorops")
    system.start()
    yield system
    if system.process is not None and system.process.poll() is None:
        system.process.send_signal(signal.SIGCONT)  # in case a test stopped the supervisor
        system.stop()
    for pid in processes_of(system.data_dir):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def alertmanager(tmp_path: Path, up: Up) -> Iterator[Alertmanager]:
    server, amtool = binaries()
    manager = Alertmanager(work=tmp_path / "alertmanager", server=server, amtool=amtool)
    manager.work.mkdir(parents=True)
    yield manager
    manager.stop()
    # Shown by pytest only when the test failed.
    print(f"--- Alertmanager's log ({manager.log_path})\n{manager.log()[-12000:]}")
    config = manager.config_path.read_text() if manager.config_path.exists() else ""
    print("--- config\n" + re.sub(r"credentials: .*", "credentials: <secret>", config))
    print(up.logs())


@pytest.fixture
def incident() -> str:
    return f"INC-AM-{os.urandom(4).hex()}"


def ingest_records(up: Up, event_id: str) -> list[str]:
    """What ingest logged for one event id, in order: ``ingest.accepted`` / ``ingest.duplicate``."""
    logs = up.data_dir / "logs"
    lines = [
        line
        for path in [*sorted(logs.glob("ingest.log.*"), reverse=True), logs / "ingest.log"]
        if path.exists()
        for line in path.read_text(errors="replace").splitlines()
    ]
    records = []
    for line in lines:
        if event_id in line:
            try:
                record = json.loads(line)
            except ValueError:  # a line being written
                continue
            if record.get("event_id") == event_id:
                records.append(record["event"])
    return records


def timeline(up: Up, incident: str) -> list[dict[str, Any]]:
    found = review(up, incident)
    return found["timeline"] if found else []


def event_of(up: Up, incident: str, type_: str, timeout: float = 20) -> dict[str, Any]:
    """The review's timeline entry of that type, once it shows up."""
    return wait_for(  # type: ignore[no-any-return]
        lambda: next((e for e in timeline(up, incident) if e["type"] == type_), None),
        timeout,
        f"{type_} in the review of {incident}",
    )


def test_alertmanager_fires_repeats_and_resolves_through_an_ingest_restart(
    up: Up, alertmanager: Alertmanager, incident: str
) -> None:
    alertmanager.configure(
        f"{up.ingest}/v1/webhooks/alertmanager", token(up, "INGEST_TOKEN"), repeat_interval="2s"
    )
    alertmanager.start()
    labels = {"alertname": "CheckoutLatencyHigh", "severity": "critical", "incident_id": incident}
    start = datetime.now(UTC) - timedelta(seconds=5)
    alertmanager.alert(labels, "Checkout latency above 2 s", start)

    fired = event_of(up, incident, "alert.fired")
    assert fired["at"] == rfc3339(start)
    assert fired["event_id"].startswith("am:") and fired["event_id"].endswith(f":firing:{rfc3339(start)}")

    # repeat_interval: Alertmanager sends the same notification again; ingest counts it a duplicate.
    wait_for(
        lambda: ingest_records(up, fired["event_id"]).count("ingest.duplicate") >= 1,
        15,
        "a repeated notification answered as a duplicate",
    )
    assert ingest_records(up, fired["event_id"])[0] == "ingest.accepted"

    # Ingest goes down (kill -9) while the alert resolves. The supervisor is held (SIGSTOP) until
    # Alertmanager has seen the connection refused, so the retry is certain, then restarts ingest.
    assert up.process is not None
    before = alertmanager.counters()
    ingest_pid = service_pid(up.data_dir, "ingest")
    assert ingest_pid is not None
    up.process.send_signal(signal.SIGSTOP)
    try:
        os.kill(ingest_pid, signal.SIGKILL)
        end = datetime.now(UTC) - timedelta(seconds=1)
        alertmanager.alert(labels, "Checkout latency above 2 s", start, end)
        wait_for(
            lambda: (
                alertmanager.counters()["alertmanager_notification_requests_failed_total"]
                > before["alertmanager_notification_requests_failed_total"]
            ),
            15,
            "Alertmanager to fail a request while ingest is down",
        )
    finally:
        up.process.send_signal(signal.SIGCONT)
    resolved = event_of(up, incident, "alert.resolved", timeout=30)
    assert resolved["at"] == rfc3339(end)
    assert "connection refused" in alertmanager.log()
    assert "Notify attempt failed, will retry later" in alertmanager.log()

    # Each alert event once in the review, however many times it was sent.
    final = timeline(up, incident)
    assert [e["type"] for e in final] == ["alert.fired", "alert.resolved"], final
    assert ingest_records(up, resolved["event_id"]).count("ingest.accepted") == 1
    assert ingest_records(up, fired["event_id"]).count("ingest.accepted") == 1
    after = alertmanager.counters()
    assert after["alertmanager_notifications_failed_total"] == 0, after  # the retries succeeded


@dataclass
class LossyProxy:
    """Between Alertmanager and ingest: forwards every request, and for the first ``lose`` ones
    answers ``503`` although ingest answered (as a load balancer's timeout does). Records each."""

    upstream: str
    lose: int = 1
    seen: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/webhooks/alertmanager"

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() in {"authorization", "content-type"}
                }
                got = httpx.post(proxy.upstream, content=body, headers=headers, timeout=10)
                lost = len(proxy.seen) < proxy.lose
                status, answer = (
                    (503, b'{"title":"upstream timed out"}') if lost else (got.status_code, got.content)
                )
                proxy.seen.append(
                    {
                        "sha256": hashlib.sha256(body).hexdigest(),
                        "ingest": got.status_code,
                        "answered": status,
                    }
                )
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def lossy(up: Up) -> Iterator[LossyProxy]:
    proxy = LossyProxy(upstream=f"{up.ingest}/v1/webhooks/alertmanager")
    proxy.start()
    yield proxy
    proxy.stop()
    print(f"--- proxy saw {proxy.seen}")


def test_alertmanager_retries_a_5xx_with_the_same_body_and_it_counts_once(
    up: Up, alertmanager: Alertmanager, lossy: LossyProxy, incident: str
) -> None:
    """Ingest stored the events but its answer was lost (a 503 on the way back): Alertmanager sends
    the identical body again, and ingest answers that it holds every event already."""
    alertmanager.configure(lossy.url, token(up, "INGEST_TOKEN"))
    alertmanager.start()
    start = datetime.now(UTC) - timedelta(seconds=5)
    labels = {"alertname": "PaymentsErrors", "severity": "critical", "incident_id": incident}
    alertmanager.alert(labels, "Payments failing", start)

    fired = event_of(up, incident, "alert.fired")
    wait_for(lambda: len(lossy.seen) >= 2, 15, "Alertmanager to retry after the 503")
    first, retry = lossy.seen[:2]
    assert first == {**first, "ingest": 202, "answered": 503}
    assert retry == {**retry, "ingest": 202, "answered": 202}
    assert retry["sha256"] == first["sha256"], "the retry is not the same body"
    assert ingest_records(up, fired["event_id"]) == ["ingest.accepted", "ingest.duplicate"]
    assert [e["type"] for e in timeline(up, incident)] == ["alert.fired"]
    counted = wait_for(
        lambda: (c := alertmanager.counters())["alertmanager_notifications_total"] >= 1 and c,
        10,
        "Alertmanager's counters",
    )
    # One notification, two HTTP requests: the 503 was retried within the notification.
    assert counted["alertmanager_notifications_total"] == 1, counted
    assert counted["alertmanager_notifications_failed_total"] == 0, counted
    assert counted["alertmanager_notification_requests_total"] == 2, counted
    assert counted["alertmanager_notification_requests_failed_total"] == 1, counted
    assert "unexpected status code 503" in alertmanager.log()


def test_alertmanager_with_a_wrong_token_records_nothing_until_the_token_is_fixed(
    up: Up, alertmanager: Alertmanager, incident: str
) -> None:
    """A 401 is not retried within a notification; Alertmanager logs the notification failed and,
    having logged none as sent, attempts it again at every group_interval."""
    alertmanager.configure(f"{up.ingest}/v1/webhooks/alertmanager", "not-an-issued-token-0123456789")
    alertmanager.start()
    start = datetime.now(UTC) - timedelta(seconds=5)
    labels = {"alertname": "QueueBacklog", "severity": "critical", "incident_id": incident}
    alertmanager.alert(labels, "Queue backlog", start)

    counted = wait_for(
        lambda: (c := alertmanager.counters())["alertmanager_notifications_failed_total"] >= 3 and c,
        15,
        "three failed notifications",
    )
    # Every notification was one request (no retry of a 4xx), and each failed.
    assert counted["alertmanager_notification_requests_total"] == counted["alertmanager_notifications_total"]
    assert (
        counted["alertmanager_notification_requests_failed_total"]
        == counted["alertmanager_notifications_total"]
    )
    assert counted["alertmanager_notifications_failed_total"] == counted["alertmanager_notifications_total"]
    log = alertmanager.log()
    assert "notify retry canceled due to unrecoverable error after 1 attempts" in log
    assert "unexpected status code 401" in log
    assert "Notify attempt failed, will retry later" not in log
    # Nothing recorded: no review, no line of ingest about the incident.
    assert review(up, incident) is None
    assert incident not in (up.data_dir / "logs" / "ingest.log").read_text(errors="replace")

    # The token fixed (and the config reloaded), the alert Alertmanager kept arrives.
    alertmanager.configure(f"{up.ingest}/v1/webhooks/alertmanager", token(up, "INGEST_TOKEN"))
    alertmanager.reload()
    fired = event_of(up, incident, "alert.fired")
    assert fired["at"] == rfc3339(start)
    assert ingest_records(up, fired["event_id"])[0] == "ingest.accepted"


def test_the_documented_configuration_is_one_alertmanager_accepts(tmp_path: Path) -> None:
    """docs/alertmanager.md's receiver configuration, checked by the real ``amtool check-config``."""
    _, amtool = binaries()
    text = (Path(__file__).resolve().parents[1] / "docs" / "alertmanager.md").read_text()
    block = text[text.index("## Pointing Alertmanager at ingest") :]
    block = block[block.index("```yaml\n") + len("```yaml\n") : block.index("\n```\n")]
    secret = tmp_path / "majorops-token"
    secret.write_text("an-ingest-token-secret-0123456789\n")
    assert "/etc/alertmanager/majorops-token" in block
    config = tmp_path / "alertmanager.yml"
    config.write_text(block.replace("/etc/alertmanager/majorops-token", str(secret)))
    done = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Found:" in done.stdout and "1 receivers" in done.stdout, done.stdout
