"""Posting the workload as a sender would: HTTP to either ingest replica, or NATS requests to
``majorops.ingest``, retried until ingest answers.

A sender does not know whether a request that got no answer was stored, so it sends it again: the
ids make that safe. What counts for the checks is the final answer of each request — ``202`` (every
event of it accepted or a duplicate), a refusal with the reason (the invalid events must be refused,
the valid ones never) — and when it came.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import nats
from nats.aio.client import Client

from chaos.system import ChaosSystem
from chaos.workload import Post
from majorops.shared import subjects

REQUEST_TIMEOUT_SECONDS = 10.0
MAX_RETRY_PAUSE_SECONDS = 2.0
IN_FLIGHT = 12


@dataclass
class SendLog:
    """What the sender saw."""

    accepted_at: dict[str, float] = field(default_factory=dict)
    """Valid event id → monotonic time of the first 202 of a request holding it."""
    refused: dict[str, int] = field(default_factory=dict)
    """Invalid event id → the status it was refused with."""
    accepted_total: int = 0
    duplicates_total: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    """``<via> <status>`` of every answer, and ``<via> <error>`` of every attempt without one."""
    problems: list[str] = field(default_factory=list)
    """Answers no sender should ever get (a valid request refused, an invalid one accepted)."""
    given_up: list[list[str]] = field(default_factory=list)
    """Requests never answered before the end: their event ids."""


class Sender:
    """Posts :class:`Post` s at their time, retrying each until it is answered."""

    def __init__(self, system: ChaosSystem, rng: random.Random) -> None:
        self.system = system
        self.rng = rng
        self.log = SendLog()
        self.token = system.token("MAJOROPS_INGEST_TOKENS")
        self.nc: Client | None = None
        self.http: httpx.AsyncClient | None = None
        self.give_up_at = float("inf")

    async def __aenter__(self) -> Sender:
        self.http = httpx.AsyncClient(
            timeout=REQUEST_TIMEOUT_SECONDS,
            headers={"authorization": f"Bearer {self.token}"},
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.nc = await nats.connect(
            self.system.nats_url.split(","),
            **self.system.consumer_options(),
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=3,
            error_cb=_quiet,
            disconnected_cb=_nothing,
            reconnected_cb=_nothing,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.aclose()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()

    async def run(self, posts: list[Post], started: float) -> None:
        """Send every post at its time (seconds after ``started``, monotonic), a few in flight at once."""
        slots = asyncio.Semaphore(IN_FLIGHT)
        tasks: list[asyncio.Task[None]] = []

        async def one(post: Post) -> None:
            async with slots:
                await self.deliver(post.events, post.via, invalid=post.kind == "invalid")

        for post in posts:
            delay = started + post.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(post)))
        await asyncio.gather(*tasks)

    async def deliver(self, events: list[dict[str, Any]], via: str, *, invalid: bool = False) -> int | None:
        """Send one request until it is answered (or the run gives up); the final status."""
        body = json.dumps(events if len(events) > 1 else events[0]).encode()
        ids = [e["id"] for e in events]
        attempt = 0
        while time.monotonic() < self.give_up_at:
            attempt += 1
            status, answer = await (self._http(body) if via == "http" else self._nats(body))
            self.log.answers[f"{via} {status}"] += 1
            if isinstance(status, int) and status != 503 and status < 500:
                self._settle(ids, status, answer, invalid)
                return status
            await asyncio.sleep(min(0.1 * 2**attempt, MAX_RETRY_PAUSE_SECONDS) * self.rng.uniform(0.5, 1.0))
        self.log.given_up.append(ids)
        return None

    def _settle(self, ids: list[str], status: int, answer: Any, invalid: bool) -> None:
        if status == 202 and not invalid:
            now = time.monotonic()
            for event_id in ids:
                self.log.accepted_at.setdefault(event_id, now)
            if isinstance(answer, dict):
                self.log.accepted_total += int(answer.get("accepted", 0))
                self.log.duplicates_total += int(answer.get("duplicates", 0))
        elif invalid and status == 422:
            for event_id in ids:
                self.log.refused[event_id] = status
        else:
            what = "invalid" if invalid else "valid"
            self.log.problems.append(f"{what} events {ids[:3]}… answered {status}: {str(answer)[:300]}")

    async def _http(self, body: bytes) -> tuple[int | str, Any]:
        assert self.http is not None
        replicas = self.system.of("ingest")
        replica = self.rng.choice(replicas)
        try:
            resp = await self.http.post(
                f"{replica.url}/v1/events", content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            return type(exc).__name__, None
        try:
            answer = resp.json()
        except ValueError:
            answer = resp.text
        return resp.status_code, answer

    async def _nats(self, body: bytes) -> tuple[int | str, Any]:
        assert self.nc is not None
        try:
            reply = await self.nc.request(subjects.INGEST_REQUEST, body, timeout=REQUEST_TIMEOUT_SECONDS)
        except (TimeoutError, nats.errors.Error) as exc:
            return type(exc).__name__, None
        try:
            answer = json.loads(reply.data)
        except ValueError:
            return "unreadable reply", None
        if isinstance(answer, dict) and "accepted" in answer:
            return 202, answer
        status = answer.get("status") if isinstance(answer, dict) else None
        return (status if isinstance(status, int) else "unknown reply"), answer


async def _quiet(_error: Exception) -> None:
    return None


async def _nothing() -> None:
    return None
