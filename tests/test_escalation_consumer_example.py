"""The documented consumer example (``docs/integrating.md``, linked from the README), run as a user runs
it: ``docs/examples/escalation_consumer.py`` in a subprocess, as NATS user ``consumer``, against
``majorops up`` after the README's quick-start incident (whose backdated record fires six escalations
at once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from majorops.shared.testkit import UpProcess as Up
from majorops.shared.testkit import wait_for
from tests.test_e2e_up import readme_quick_start, review, token

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "escalation_consumer.py"
DOCUMENT = ROOT / "docs" / "integrating.md"

SAME_IN_DOCUMENT_AND_EXAMPLE = (
    'user="consumer"',
    "config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_ack_pending=100)",
    'sub = await js.pull_subscribe( "majorops.escalations.>", durable=',
    'stream="MAJOROPS_ESCALATIONS", config=config',
    "except nats.errors.TimeoutError:",
    "escalation = json.loads(msg.data)",
    "print(json.dumps(escalation), flush=True)",
    "await msg.ack_sync()",
)
"""What the documented example shows, each in the order the script does it."""


def documented_example() -> str:
    text = DOCUMENT.read_text()
    block = text[text.index("For example, with nats-py:") :]
    return block[block.index("```python\n") + len("```python\n") : block.index("\n```\n")]


def flat(code: str) -> str:
    """Code with every run of whitespace one space (the documented block is indented less)."""
    return " ".join(code.split())


def test_the_documented_example_is_the_core_of_the_script() -> None:
    shown = flat(documented_example())
    script = flat(EXAMPLE.read_text())
    assert "docs/examples/escalation_consumer.py" in shown
    assert 'os.environ["MAJOROPS_NATS_CONSUMER_PASSWORD"]' in shown
    assert 'PASSWORD_VARIABLE = "MAJOROPS_NATS_CONSUMER_PASSWORD"' in script
    at_document = at_script = 0
    for needle in SAME_IN_DOCUMENT_AND_EXAMPLE:
        needle = flat(needle)
        assert needle in shown[at_document:], f"{DOCUMENT.name}'s example lacks (or reorders) {needle!r}"
        assert needle in script[at_script:], f"{EXAMPLE.name} lacks (or reorders) {needle!r}"
        at_document = shown.index(needle, at_document)
        at_script = script.index(needle, at_script)


def run_script(up: Up, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the script as a user does, with the consumer password of ``credentials.env``."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MAJOROPS_", "NATS_"))},
        "MAJOROPS_NATS_CONSUMER_PASSWORD": password or token(up, "NATS_CONSUMER_PASSWORD"),
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLE), "--nats-url", f"nats://127.0.0.1:{up.nats_port}", *args],
        capture_output=True,
        text=True,
        timeout=40,
        env=env,
        check=False,
    )


def run_example(up: Up, *args: str) -> tuple[list[dict[str, Any]], float]:
    """The escalations the script printed, and how long it ran."""
    began = time.monotonic()
    done = run_script(up, *args)
    took = time.monotonic() - began
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()], took


def test_the_escalation_consumer_example_prints_each_escalation_once_per_durable(up: Up) -> None:
    up.start()
    (post_events, posted), _ = readme_quick_start()
    local = post_events.replace("localhost:8080", f"127.0.0.1:{up.ingest_port}").replace(
        " .majorops/", f" {up.data_dir}/"
    )
    done = subprocess.run(["bash", "-c", local], capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout.strip().splitlines() == posted
    settled = wait_for(
        lambda: (r := review(up, "INC-1042")) and len(r["escalations"]) == 6 and r,
        30,
        "the quick start's six escalations",
    )

    printed, _ = run_example(up, "--durable", "pager-bridge", "--count", "6", "--idle-timeout", "20")
    assert len(printed) == 6, printed
    assert {e["escalation_id"] for e in printed} == {e["escalation_id"] for e in settled["escalations"]}
    assert sorted((e["kind"], e["level"]) for e in printed) == [
        (kind, level)
        for kind in ("after_action_not_held", "after_action_not_scheduled")
        for level in (1, 2, 3)
    ]
    for e in printed:
        assert e["incident_id"] == "INC-1042"
        assert e["late"] is True
        assert e["superseded_by"] == (None if e["level"] == 3 else f"INC-1042:{e['kind']}:3")

    # Everything was acknowledged: the same durable has nothing new, and waits its idle timeout.
    again, took = run_example(up, "--durable", "pager-bridge", "--idle-timeout", "2")
    assert again == []
    assert 2 <= took < 15, f"ran {took:.1f} s"
    # Another durable is another reader: it reads the stream from the start.
    other, _ = run_example(up, "--durable", "audit-log", "--count", "6", "--idle-timeout", "20")
    assert sorted(e["escalation_id"] for e in other) == sorted(e["escalation_id"] for e in printed)

    # A wrong password stops it at once with one line saying so, not retried forever.
    refused = run_script(up, "--durable", "pager-bridge", password="not-the-password-0123456789")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "Authorization Violation" in refused.stderr and "Traceback" not in refused.stderr
    assert "check MAJOROPS_NATS_CONSUMER_PASSWORD" in refused.stderr
    assert up.stop() == 0


def test_the_escalation_consumer_example_refuses_to_run_without_the_password() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MAJOROPS_NATS_CONSUMER_PASSWORD"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--durable", "pager-bridge"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert "set MAJOROPS_NATS_CONSUMER_PASSWORD" in done.stderr
