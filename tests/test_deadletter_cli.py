"""``majorops deadletter list|replay``, run as a user would, against a real nats-server and policy.

A deployment forgot an event type in policy's settings: policy dead-letters the event. After the fix
(policy restarted with the type), ``replay`` sends it again and policy stores it; a second replay
finds nothing to do, and the letter is gone from ``list``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from majorops.policy.bootstrap import PolicyRuntime
from majorops.policy.config import PolicySettings
from majorops.shared import subjects, testing
from majorops.shared.testing import eventually, publish_event, running

MAJOROPS = str(Path(sys.executable).parent / "majorops")
CUSTOM_TYPE = "majorops.drill.started"


def deadletter(nats_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAJOROPS_NATS_URL": nats_url}
    return subprocess.run(
        [MAJOROPS, "deadletter", *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def letters_about(nats_url: str, incident: str) -> list[dict[str, Any]]:
    listed = deadletter(nats_url, "list", "--service", "policy", "--json")
    assert listed.returncode == 0, listed.stderr
    letters = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    return [letter for letter in letters if f".{incident}." in letter["subject"]]


async def test_a_dead_letter_is_replayed_after_the_fix_once(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    event = testing.event_envelope(unique_id, f"{unique_id}-drill", CUSTOM_TYPE, "2026-11-20T09:00:00Z", {})
    unaware = PolicyRuntime(testing.settings_for(PolicySettings, nats_url, data_dir))
    async with running(unaware):
        await publish_event(js, event)
        found = await eventually(
            lambda: asyncio.to_thread(letters_about, nats_url, unique_id), bool, "policy's dead letter"
        )
    (letter,) = found
    assert letter["reason"].startswith("poison: invalid event envelope")
    assert json.loads(letter["payload"])["id"] == event["id"]

    fixed = PolicyRuntime(
        testing.settings_for(PolicySettings, nats_url, data_dir, extra_event_types=CUSTOM_TYPE)
    )
    async with running(fixed):
        replayed = await asyncio.to_thread(deadletter, nats_url, "replay", "--seq", str(letter["sequence"]))
        assert replayed.returncode == 0, replayed.stderr
        assert replayed.stdout.strip().endswith("replayed 1, skipped 0")

        async def stored() -> list[str]:
            return [e.event_id for e in await fixed.store.events_for(unique_id)]

        assert await eventually(stored, lambda ids: ids == [event["id"]], "the replayed event stored")

        again = await asyncio.to_thread(deadletter, nats_url, "replay", "--seq", str(letter["sequence"]))
        assert again.returncode == 1
        assert "replayed already?" in again.stderr
        assert await asyncio.to_thread(letters_about, nats_url, unique_id) == []
        await testing.consumers_settled(
            js, testing.service_durables("policy", subjects.EVENTS_STREAM), "policy settled"
        )
        assert await stored() == [event["id"]]  # stored once


def test_unreachable_nats_is_a_clear_error() -> None:
    result = deadletter("nats://127.0.0.1:1", "list")
    assert result.returncode == 2
    assert "cannot reach NATS at nats://127.0.0.1:1" in result.stderr
