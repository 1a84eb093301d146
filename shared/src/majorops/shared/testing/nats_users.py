"""Connecting to a real nats-server as one of the users of :mod:`majorops.shared.nats_access`, and
hearing what the server refused it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from majorops.shared import nats_access

REFUSED_WITHIN = 0.3
"""How long a JetStream request waits for the answer a refused request never gets (the server
refuses at once)."""


@dataclass
class UserConnection:
    """A connection as one user, with the asynchronous errors the server sent it."""

    nc: Client
    errors: list[str] = field(default_factory=list)

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream(timeout=REFUSED_WITHIN)

    async def refused(self, what: str, timeout: float = 2.0) -> bool:
        """Whether the server reported a permissions violation naming ``what`` (lower-cased by nats-py)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if any("permissions violation" in e and what.lower() in e for e in self.errors):
                return True
            await asyncio.sleep(0.02)
        return False


async def connect_as(url: str, user: str, password: str) -> UserConnection:
    """Connect as ``user`` with the inbox prefix its service uses, without reconnecting."""
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    nc = await nats.connect(
        url,
        user=user,
        password=password,
        inbox_prefix=nats_access.inbox_prefix(user),
        error_cb=on_error,
        allow_reconnect=False,
        connect_timeout=2,
    )
    return UserConnection(nc, errors)
