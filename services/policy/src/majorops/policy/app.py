"""Policy: a FastStream NATS service that consumes every incident event from JetStream.

One durable pull consumer (``policy-events``) is shared by every replica, so each event is handled
by one of them; the store is idempotent by event id, so a redelivery changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog
from majorops.policy.adapters.mongo import MongoPolicyStore
from majorops.policy.adapters.sqlite import SqlitePolicyStore
from majorops.policy.config import PolicySettings
from majorops.policy.handlers import record_event
from majorops.policy.ports import PolicyStore
from majorops.shared import subjects
from majorops.shared.jetstream import (
    arrival_sequence,
    connect_broker,
    decode_json,
    make_broker,
    subscribe_durable,
)
from nats.aio.msg import Msg

SERVICE = "policy"
log = structlog.get_logger(__name__)


def store_from_settings(settings: PolicySettings) -> PolicyStore:
    """MongoDB when ``MAJOROPS_MONGODB_URL`` is set, else the embedded SQLite file in the data dir."""
    if settings.mongodb_url:
        return MongoPolicyStore(settings.mongodb_url, f"{settings.mongodb_database}_{SERVICE}")
    return SqlitePolicyStore(settings.sqlite_path(SERVICE))


class PolicyRuntime:
    """The clients of one policy process: created here, connected in :meth:`start` (never at import)."""

    def __init__(self, settings: PolicySettings, store: PolicyStore | None = None) -> None:
        self.settings = settings
        self.extra_types = settings.extra_types
        self.store = store if store is not None else store_from_settings(settings)
        self.broker = make_broker(settings, SERVICE)
        subscribe_durable(
            self.broker,
            service=SERVICE,
            stream=subjects.EVENTS_STREAM,
            subject=subjects.ALL_EVENTS,
            settings=settings,
            handle=self.on_event,
        )

    async def on_event(self, raw: Msg) -> None:
        """``majorops.events.>``: record the event (the decision is re-derived from the record)."""
        await record_event(decode_json(raw), arrival_sequence(raw), self.store, self.extra_types)

    async def start(self) -> None:
        """Open the store, then connect and start consuming (the store must be ready first)."""
        await self.store.open()
        await connect_broker(self.broker)
        await self.broker.start()
        log.info("policy.started", nats_url=self.settings.nats_url)

    async def stop(self) -> None:
        """Finish the messages in hand, drain the connection, then close the store."""
        try:
            await self.broker.stop()
        finally:
            await self.store.close()
        log.info("policy.stopped")

    async def run(self) -> None:
        """Run until SIGTERM or SIGINT, then stop gracefully; a failed start ends with its error."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        watched = (signal.SIGTERM, signal.SIGINT)
        for signum in watched:
            loop.add_signal_handler(signum, stopping.set)
        log.info("policy.starting", nats_url=self.settings.nats_url)
        starting = asyncio.create_task(self.start())
        signalled = asyncio.create_task(stopping.wait())
        try:
            await asyncio.wait((starting, signalled), return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()
                await signalled
            else:
                # Signalled while still connecting (NATS or the store not up yet): give up connecting.
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
            log.info("policy.stopping")
        finally:
            signalled.cancel()
            for signum in watched:
                loop.remove_signal_handler(signum)
            await self.stop()
