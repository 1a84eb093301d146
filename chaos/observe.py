"""Reading what the system holds, as an operator (``admin``) and a reader of reviews would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from chaos.system import ChaosSystem
from majorops.shared import subjects

DURABLES = (
    (subjects.EVENTS_STREAM, "policy"),
    (subjects.EVENTS_STREAM, "reminders"),
    (subjects.EVENTS_STREAM, "reports"),
    (subjects.DECISIONS_STREAM, "reminders"),
    (subjects.DECISIONS_STREAM, "reports"),
    (subjects.ESCALATIONS_STREAM, "reports"),
)
"""Every durable consumer of the services (no webhooks are configured, so no notifier)."""


@dataclass(frozen=True)
class StreamMessage:
    seq: int
    subject: str
    msg_id: str
    body: Any
    stored_at: datetime


async def admin_connection(system: ChaosSystem) -> Client:
    return await nats.connect(
        system.nats_url.split(","),
        **system.admin_options(),
        connect_timeout=3,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=_quiet,
    )


async def _quiet(_error: Exception) -> None:
    return None


async def read_stream(
    js: JetStreamContext, stream: str, subject: str, attempts: int = 10
) -> list[StreamMessage]:
    """Every message of ``stream`` on ``subject`` (wildcards allowed), with when JetStream stored it.

    Read through an ephemeral consumer of its own; one that JetStream cannot serve yet (its leader
    still being placed: a 503) is dropped and the reading starts over."""
    for attempt in range(1, attempts + 1):
        try:
            return await _read_stream_once(js, stream, subject)
        except nats.errors.Error:
            if attempt == attempts:
                raise
            await asyncio.sleep(1.0)
    return []


async def _read_stream_once(js: JetStreamContext, stream: str, subject: str) -> list[StreamMessage]:
    sub = await js.pull_subscribe(
        subject,
        stream=stream,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=30.0
        ),
    )
    out: list[StreamMessage] = []
    try:
        while True:
            try:
                batch = await sub.fetch(500, timeout=2.0)
            except TimeoutError:
                return out
            for msg in batch:
                meta = msg.metadata
                try:
                    body = json.loads(msg.data)
                except ValueError:
                    body = None
                out.append(
                    StreamMessage(
                        seq=meta.sequence.stream,
                        subject=msg.subject,
                        msg_id=(msg.headers or {}).get("Nats-Msg-Id", ""),
                        body=body,
                        stored_at=meta.timestamp.astimezone(UTC),
                    )
                )
            if batch and batch[-1].metadata.num_pending == 0:
                return out
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


MIRROR_CATCH_UP_SECONDS = 60.0


async def mirror_sequences(system: ChaosSystem, origin: JetStreamContext) -> dict[str, set[int]]:
    """What other systems' read-only mirrors hold (CONTRACT §6): ``<stream>`` → its stream sequences,
    read as ``consumer`` once each mirror has caught up with the services' stream (or after
    :data:`MIRROR_CATCH_UP_SECONDS`)."""
    nc = await nats.connect(system.nats_url.split(","), **system.consumer_options(), error_cb=_quiet)
    try:
        js = nc.jetstream()
        out: dict[str, set[int]] = {}
        for stream in (subjects.EVENTS_STREAM, subjects.DECISIONS_STREAM, subjects.ESCALATIONS_STREAM):
            wanted = (await origin.stream_info(stream)).state.last_seq
            deadline = asyncio.get_running_loop().time() + MIRROR_CATCH_UP_SECONDS
            while (await js.stream_info(stream)).state.last_seq < wanted:
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.5)
            out[stream] = {m.seq for m in await read_stream(js, stream, ">")}
        return out
    finally:
        await nc.close()


async def durable_backlogs(js: JetStreamContext) -> dict[str, tuple[int, int]]:
    """``<durable>`` → (messages not yet delivered, delivered but not acknowledged)."""
    out = {}
    for stream, service in DURABLES:
        durable = subjects.durable_name(service, stream)
        info = await js.consumer_info(stream, durable)
        out[durable] = (info.num_pending or 0, info.num_ack_pending or 0)
    return out


async def reviews(system: ChaosSystem, incidents: list[str]) -> dict[str, dict[str, Any] | None]:
    """``GET /v1/reviews/<id>`` of every incident from every reports replica: ``<replica> <id>`` →
    the review (None: 404 or no answer)."""
    token = system.token("MAJOROPS_REPORTS_READ_TOKENS")
    out: dict[str, dict[str, Any] | None] = {}
    queue = [(replica, incident) for replica in system.of("reports") for incident in incidents]

    async def reader(http: httpx.AsyncClient) -> None:
        while queue:
            replica, incident = queue.pop()
            answer: dict[str, Any] | None = None
            for _ in range(3):
                try:
                    resp = await http.get(f"{replica.url}/v1/reviews/{incident}")
                except httpx.HTTPError:
                    await asyncio.sleep(0.5)
                    continue
                answer = resp.json() if resp.status_code == 200 else None
                break
            out[f"{replica.name} {incident}"] = answer

    async with httpx.AsyncClient(timeout=30.0, headers={"authorization": f"Bearer {token}"}) as http:
        await asyncio.gather(*(reader(http) for _ in range(6)))
    return out


def deadletter_cli(system: ChaosSystem, *args: str) -> subprocess.CompletedProcess[str]:
    """``majorops deadletter …`` as docs/operations.md says: as ``admin``, against every node."""
    majorops = str(Path(sys.executable).parent / "majorops")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MAJOROPS_")},
        "MAJOROPS_NATS_URL": system.nats_url,
        "MAJOROPS_NATS_USER": "admin",
        "MAJOROPS_NATS_PASSWORD": system.admin_options()["password"],
    }
    return subprocess.run(
        [majorops, "deadletter", *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def dead_letters(system: ChaosSystem) -> list[dict[str, Any]]:
    listed = deadletter_cli(system, "list", "--json")
    if listed.returncode != 0:
        raise RuntimeError(f"majorops deadletter list failed: {listed.stderr}")
    return [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
