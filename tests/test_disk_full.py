"""A full disk heals itself: `majorops up` with its data dir on a small filesystem the test mounts
(tmpfs), the filesystem filled while events keep coming, then freed — and every event answered 202,
before and after, reaches its review with its escalations, nobody touching anything.

What a user notices is asserted: the 202s, ingest's /readyz (503 while JetStream does not store, 200
after), the reviews and their escalations, what `majorops up` prints. The figures of the run (how
long until ingest accepted again, until every review was complete) are printed on one line
(``pytest -s``); RELIABILITY.md quotes them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from majorops.shared.testing import bearer, contract_example_events, metric
from majorops.shared.testkit import UpProcess as Up
from majorops.shared.testkit import wait_for
from tests.test_e2e_up import post, review, token

pytestmark = pytest.mark.e2e

DISK_SIZE = "64m"
"""Room for nats-server's store, the SQLite stores and the logs of a short run, several times over."""
FULL_SECONDS = 15.0
"""How long the disk stays full while a sender keeps trying (nats-server has failed its store by then)."""
HEAL_SECONDS = 60.0
"""The most the test waits, after space came back, for ingest to accept again."""
ESCALATIONS = 6
"""CONTRACT §3's example incident, closed long ago: both obligations overdue by every level at once."""


@pytest.fixture
def small_disk(tmp_path: Path, tmpfs: Callable[[Path, str], Path]) -> Path:
    """A tmpfs of :data:`DISK_SIZE` mounted for the test (skipped only where the kernel refuses it)."""
    return tmpfs(tmp_path / "small-disk", DISK_SIZE)


def fill(path: Path) -> int:
    """Write ``path`` until its filesystem has no byte left; the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as filler:
        for chunk in (1 << 20, 1 << 12, 1):
            block = b"\0" * chunk
            while True:
                try:
                    written += filler.write(block) or 0
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return written


def complete(up: Up, incident: str, event_ids: Sequence[str]) -> dict[str, Any] | None:
    """The incident's review once it shows every event, policy decided and reminders fired every
    escalation the events call for."""
    got = review(up, incident)
    if (
        got
        and {item["event_id"] for item in got["timeline"]} >= set(event_ids)
        and got["after_action"]["requirement"] == "mandatory"
        and len(got["escalations"]) == ESCALATIONS
    ):
        return got
    return None


def ingest_ready(up: Up) -> httpx.Response:
    return httpx.get(f"{up.ingest}/readyz", timeout=5)


def test_a_full_disk_heals_itself_and_every_accepted_event_reaches_its_review(small_disk: Path) -> None:
    up = Up(data_dir=small_disk / "majorops")
    try:
        up.start()
        headers = bearer(token(up, "INGEST_TOKEN"))
        accepted: dict[str, list[str]] = {}

        # Before: an incident answered 202 and complete, escalations and all.
        before = contract_example_events("INC-DISK-BEFORE")
        assert post(up, before) == {"accepted": 4, "duplicates": 0}
        accepted["INC-DISK-BEFORE"] = [e["id"] for e in before]
        wait_for(
            lambda: complete(up, "INC-DISK-BEFORE", accepted["INC-DISK-BEFORE"]),
            60,
            "the first review, complete",
        )

        # The disk fills up while a sender keeps sending (one incident per attempt, so that an event
        # the full disk still took is one to find in a review later).
        filled = fill(small_disk / "filler")
        full_at = time.monotonic()
        answers: list[int] = []
        not_ready_seen = False
        readiness: list[str] = []
        n = 0
        while time.monotonic() - full_at < FULL_SECONDS:
            n += 1
            incident = f"INC-DISK-FULL-{n}"
            events = contract_example_events(incident)
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.post(f"{up.ingest}/v1/events", json=events, headers=headers, timeout=10)
                answers.append(answer.status_code)
                if answer.status_code == 202:
                    accepted[incident] = [e["id"] for e in events]
            with contextlib.suppress(httpx.HTTPError):  # ingest answers, whatever JetStream does
                ready = ingest_ready(up)
                readiness.append(ready.text)
                not_ready_seen = not_ready_seen or ready.status_code == 503
            time.sleep(0.5)
        assert 503 in answers, f"ingest accepted everything on a full disk: {answers}"
        assert not_ready_seen, f"ingest's /readyz never said it could not store: {answers} {readiness}"

        # Space comes back; nobody restarts anything.
        os.unlink(small_disk / "filler")
        freed_at = time.monotonic()
        after = contract_example_events("INC-DISK-AFTER")
        assert post(up, after, timeout=HEAL_SECONDS) == {"accepted": 4, "duplicates": 0}
        accepting_after = time.monotonic() - freed_at
        accepted["INC-DISK-AFTER"] = [e["id"] for e in after]
        assert ingest_ready(up).status_code == 200

        # Every event answered 202, before, during and after, is in its review with its escalations.
        for incident, ids in accepted.items():
            wait_for(lambda i=incident, e=ids: complete(up, i, e), 90, f"{incident}'s review, complete")
        complete_after = time.monotonic() - freed_at

        failures = sum(
            metric(httpx.get(f"{base}/metrics", timeout=5).text, "majorops_log_write_failures_total")
            for base in (up.ingest, up.reports)
        )
        print(
            f"\ndisk full: {filled / 2**20:.1f} MiB filler, full for {FULL_SECONDS:.0f} s, "
            f"{len(answers)} sends during it ({answers.count(202)} answered 202, {answers.count(503)} 503); "
            f"ingest accepting {accepting_after:.1f} s after space came back, every review complete "
            f"after {complete_after:.1f} s; {failures:.0f} log writes dropped by ingest and reports"
        )
        # What `majorops up` printed: the healing, said as it happened.
        printed = up.stop_output()
        assert up.process is not None and up.process.returncode == 0
        assert "nats-server: JetStream cannot store" in printed and "nats-server restarted" in printed, (
            printed
        )
    finally:
        up.reap()
