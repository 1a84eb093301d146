"""End to end, as a user would: `majorops up`, post events, read the review, kill things, restart.

These tests run the real CLI in a subprocess: the embedded nats-server from the wheel, four
service processes, SQLite stores in a temporary data dir.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from majorops.cli.credentials import read_env_file
from majorops.shared.testing import bearer, event_envelope, processes_of
from majorops.shared.testkit import UpProcess as Up
from majorops.shared.testkit import wait_for

pytestmark = pytest.mark.e2e

SERVICES = ("ingest", "policy", "reminders", "reports")


def event(incident: str, n: int, type_: str, time_: str, **data: Any) -> dict[str, Any]:
    return event_envelope(incident, f"{incident}-{n}", type_, time_, data, source="e2e")


def service_pid(data_dir: Path, service: str) -> int | None:
    """The pid of the service's process for this data dir; None while it is down (restarting)."""
    for pid, cmdline in processes_of(data_dir).items():
        if f"-m majorops.{service}" in cmdline:
            return pid
    return None


def token(up: Up, shell_name: str) -> str:
    """A token ``majorops up`` generated, as ``. <data-dir>/credentials.env`` gives it to a shell."""
    return read_env_file(up.data_dir / "credentials.env")[shell_name]


def post(up: Up, body: Any, timeout: float = 30) -> dict[str, Any]:
    """Post like a sender that retries until ingest answers 202 (it may be restarting)."""
    headers = bearer(token(up, "INGEST_TOKEN"))

    def attempt() -> dict[str, Any] | None:
        resp = httpx.post(f"{up.ingest}/v1/events", json=body, headers=headers, timeout=5)
        return resp.json() if resp.status_code == 202 else None  # type: ignore[no-any-return]

    return wait_for(attempt, timeout, f"ingest to accept at {up.ingest}")  # type: ignore[no-any-return]


def review(up: Up, incident: str) -> dict[str, Any] | None:
    headers = bearer(token(up, "REPORTS_READ_TOKEN"))
    resp = httpx.get(f"{up.reports}/v1/reviews/{incident}", headers=headers, timeout=5)
    return resp.json() if resp.status_code == 200 else None  # type: ignore[no-any-return]


def stored_event_ids(db: Path, incident: str) -> set[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return {
            row[0] for row in conn.execute("SELECT event_id FROM events WHERE incident_id = ?", (incident,))
        }


def test_up_serves_a_review_then_stops_cleanly_and_resumes(up: Up) -> None:
    took = up.start()
    assert took < 30, f"ready after {took:.1f} s"
    text = "".join(up.output)
    assert f"http://127.0.0.1:{up.ingest_port}/v1/events" in text
    assert f"http://127.0.0.1:{up.reports_port}/v1/reviews" in text
    assert f"nats://127.0.0.1:{up.nats_port}" in text
    # Every service answers its probes, policy and reminders where the policy/reminders line says.
    probed = re.findall(r"pid \d+, (http://127\.0\.0\.1:\d+)", text)
    assert len(probed) == 2, text
    for base in [up.ingest, up.reports, *probed]:
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200, base
        assert "majorops_" in httpx.get(f"{base}/metrics", timeout=5).text, base

    incident = "INC-E2E-1"
    batch = [
        event(
            incident,
            1,
            "alert.fired",
            "2026-11-20T09:02:00Z",
            alert_name="CheckoutLatencyHigh",
            customer_count=1200,
        ),
        event(
            incident, 2, "incident.declared", "2026-11-20T09:14:00Z", title="Checkout latency", severity="P1"
        ),
        event(incident, 3, "role.assigned", "2026-11-20T09:15:00Z", role="mim", person="Dana Reyes"),
        event(incident, 4, "incident.resolved", "2026-11-20T11:29:00Z"),
    ]
    assert post(up, batch) == {"accepted": 4, "duplicates": 0}
    got = wait_for(lambda: (r := review(up, incident)) and len(r["timeline"]) == 4 and r, 20, "the review")
    assert got["summary"]["title"] == "Checkout latency"
    assert got["summary"]["severity"] == "critical"
    assert [item["type"] for item in got["timeline"]] == [
        "alert.fired",
        "incident.declared",
        "role.assigned",
        "incident.resolved",
    ]
    reader = bearer(token(up, "REPORTS_READ_TOKEN"))
    assert httpx.get(f"{up.reports}/v1/reviews/NOPE-1", headers=reader, timeout=5).status_code == 404
    # Only the owner may read the stores (every review), however the umask was: no local user
    # bypasses the read token.
    assert stat.S_IMODE(up.data_dir.stat().st_mode) == 0o700
    stores = sorted(up.data_dir.glob("*.sqlite3*"))
    assert {p.name for p in stores} >= {
        f"{s}.sqlite3{x}" for s in ("policy", "reminders", "reports") for x in ("", "-wal", "-shm")
    }
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in stores} == {p.name: "0o600" for p in stores}

    assert up.stop() == 0
    assert wait_for(lambda: not processes_of(up.data_dir), 10, "no process left"), processes_of(up.data_dir)

    up.process = None
    up.start()
    again = wait_for(lambda: review(up, incident), 20, "the review after restart")
    assert len(again["timeline"]) == 4
    assert post(up, batch[0]) == {"accepted": 0, "duplicates": 1}


README = Path(__file__).resolve().parents[1] / "README.md"


def readme_quick_start() -> list[tuple[str, list[str]]]:
    """The README's quick-start commands, each with the output lines it shows (``# …`` after it)."""
    text = README.read_text()
    block = text[text.index("post an incident's events") :]
    block = block[block.index("```sh\n") + len("```sh\n") : block.index("\n```\n")]
    steps: list[tuple[str, list[str]]] = []
    command: list[str] = []
    for line in block.splitlines():
        if line.startswith("# "):
            if command:
                steps.append(("\n".join(command), []))
                command = []
            steps[-1][1].append(line[2:])
        else:
            command.append(line)
    assert not command, f"a README command shows no output: {command}"
    return steps


def test_the_readme_quick_start_runs_as_written(up: Up) -> None:
    """The README's commands, run by bash as a user pastes them (ports aside), print what it shows."""
    up.start()
    steps = readme_quick_start()
    assert len(steps) == 2

    # A user's shell keeps what a sourced file set: each step runs after the sourcing lines before it.
    sourced: list[str] = []

    def run(command: str) -> list[str]:
        sourced.extend(line for line in command.splitlines() if line.startswith(". "))
        script = "\n".join([*sourced, command])
        local = (
            script.replace("localhost:8080", f"127.0.0.1:{up.ingest_port}")
            .replace("localhost:8081", f"127.0.0.1:{up.reports_port}")
            .replace(" .majorops/", f" {up.data_dir}/")
        )
        done = subprocess.run(["bash", "-c", local], capture_output=True, text=True, timeout=30, check=True)
        return done.stdout.strip().splitlines()

    (post_events, posted), (read_review, shown) = steps
    assert run(post_events) == posted
    # The review settles once policy has decided and reminders has fired what the backdated record
    # calls for: every level of both obligations.
    settled = wait_for(
        lambda: (
            (r := review(up, "INC-1042"))
            and r["after_action"]["requirement"] == "mandatory"
            and len(r["escalations"]) == 6
            and r
        ),
        30,
        "the quick start's review with its escalations",
    )
    assert run(read_review) == shown
    # What the README says about it.
    assert run(post_events) == ['{"accepted":0,"duplicates":3} 202']
    assert {e["kind"] for e in settled["escalations"]} == {
        "after_action_not_scheduled",
        "after_action_not_held",
    }
    for e in settled["escalations"]:
        assert e["late"] is True
        top = f"INC-1042:{e['kind']}:3"
        assert e["superseded_by"] == (None if e["level"] == 3 else top)
    time.sleep(1)  # no MTM suggestion for an incident the record shows resolved, not even late
    assert "mtm_recommended" not in {e["kind"] for e in (review(up, "INC-1042") or {})["escalations"]}
    # Secrets never reach a log or the terminal: not the tokens used above, not the NATS passwords.
    issued = read_env_file(up.data_dir / "credentials.env")
    assert len(issued) >= 9
    logs = "".join(path.read_text(errors="replace") for path in (up.data_dir / "logs").glob("*.log*"))
    assert "INC-1042" in logs
    printed = "".join(up.output)
    secrets = {name: value.rpartition(":")[2] for name, value in issued.items()}
    assert [name for name, secret in secrets.items() if secret in logs or secret in printed] == []


def test_kill_9_of_any_service_loses_no_accepted_event(up: Up) -> None:
    up.start()
    incident = "INC-E2E-KILL"
    accepted: list[str] = []
    n = 0
    for victim in SERVICES:
        batch = []
        for _ in range(10):
            n += 1
            batch.append(
                event(incident, n, "timeline.logged", f"2026-11-20T10:{n:02d}:00Z", text=f"step {n}")
            )
        result = post(up, batch)
        assert result == {"accepted": 10, "duplicates": 0}
        accepted.extend(e["id"] for e in batch)
        pid = service_pid(up.data_dir, victim)
        assert pid is not None, f"no {victim} process"
        os.kill(pid, signal.SIGKILL)
        wait_for(
            lambda v=victim, p=pid: service_pid(up.data_dir, v) not in (None, p),
            30,
            f"{victim} to be restarted",
        )
    want = set(accepted)
    wait_for(
        lambda: (r := review(up, incident)) and {i.get("event_id") for i in r["timeline"]} >= want,
        60,
        "every accepted event in the review",
    )
    for service in ("policy", "reminders"):
        db = up.data_dir / f"{service}.sqlite3"
        wait_for(lambda d=db: stored_event_ids(d, incident) == want, 60, f"every event in {service}'s store")
    final = review(up, incident)
    assert final is not None
    assert len(final["timeline"]) == len(want), "an event was stored twice"
    assert up.stop() == 0


def test_kill_9_of_the_broker_loses_no_accepted_event(up: Up) -> None:
    """JetStream runs with sync_interval always: what it acknowledged survives a kill -9."""
    up.start()
    incident = "INC-E2E-BROKER"
    first = [
        event(incident, n, "timeline.logged", f"2026-11-20T10:{n:02d}:00Z", text=f"step {n}")
        for n in range(5)
    ]
    assert post(up, first) == {"accepted": 5, "duplicates": 0}
    broker = next(pid for pid, cmd in processes_of(up.data_dir).items() if "nats-server" in cmd)
    os.kill(broker, signal.SIGKILL)
    second = [
        event(incident, n, "timeline.logged", f"2026-11-20T10:{n:02d}:00Z", text=f"step {n}")
        for n in range(5, 10)
    ]
    # The sender retries until ingest answers 202 again (the supervisor restarts the broker).
    assert post(up, second) == {"accepted": 5, "duplicates": 0}
    want = {e["id"] for e in first + second}
    got = wait_for(
        lambda: (r := review(up, incident)) and {i["event_id"] for i in r["timeline"]} >= want and r,
        60,
        "every accepted event in the review after the broker restarted",
    )
    assert len(got["timeline"]) == 10
    assert "nats-server exited; restarting it" in "".join(up.output) + up.stop_output()


def log_history(logs: Path, name: str) -> list[str]:
    """Every line of ``<name>.log`` and its rotated copies, oldest first."""
    files = sorted(logs.glob(f"{name}.log.*"), key=lambda p: -int(p.suffix[1:]))
    return [line for path in [*files, logs / f"{name}.log"] for line in path.read_text().splitlines()]


def test_logs_start_each_run_with_a_marker_rotate_and_hold_no_traceback(up: Up) -> None:
    """Two runs into one data dir, the first stopped by SIGTERM, the second by a kill -9 of `majorops
    up` (the services then get SIGTERM from the kernel, nats-server at the same moment)."""
    limit = 4096
    up.env = {"MAJOROPS_LOG_MAX_BYTES": "4KiB", "MAJOROPS_LOG_BACKUPS": "2"}
    logs = up.data_dir / "logs"
    up.start()
    assert "logs         " + str(logs) in "".join(up.output)
    assert up.stop() == 0
    up.process = None
    up.start()
    assert up.process is not None
    up.process.kill()
    up.process.wait()
    wait_for(lambda: not processes_of(up.data_dir), 20, "every child to stop after the kill -9")

    for path in sorted(logs.iterdir()):
        text = path.read_text(errors="replace")
        assert "Traceback" not in text, f"{path.name}:\n{text}"
        assert path.stat().st_size < limit + 2048, f"{path.name} grew far past MAJOROPS_LOG_MAX_BYTES"
    for service in SERVICES:
        assert len(list(logs.glob(f"{service}.log.*"))) <= 2
        lines = log_history(logs, service)
        records = [json.loads(line) for line in lines]  # every line whole, through rotations
        markers = [n for n, record in enumerate(records) if record["event"] == "run.started"]
        assert markers[0] == 0, f"{service}'s log does not start with its run marker"
        assert len(markers) == 2, f"{service}: {markers}"
        pids = {records[n]["pid"] for n in markers}
        assert len(pids) == 2 and all(records[n]["service"] == service for n in markers)
    assert any(logs.glob("ingest.log.*")) or any(logs.glob("reminders.log.*")), "nothing rotated at 4 KiB"
    nats_lines = [line for p in logs.glob("nats-server.log*") for line in p.read_text().splitlines()]
    assert sum("Starting nats-server" in line for line in nats_lines) >= 1
