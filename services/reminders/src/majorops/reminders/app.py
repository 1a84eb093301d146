"""Reminders: a FastStream NATS service that consumes incident events and After Action decisions.

Two durable pull consumers (``reminders-events``, ``reminders-decisions``), each shared by every
replica, so each message is handled by one of them; the store is idempotent (events by id,
decisions by highest revision), so a redelivery changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog
from majorops.reminders.adapters.mongo import MongoRemindersStore
from majorops.reminders.adapters.sqlite import SqliteRemindersStore
from majorops.reminders.config import RemindersSettings
from majorops.reminders.handlers import record_decision, record_event
from majorops.reminders.ports import RemindersStore
from majorops.shared import subjects
from majorops.shared.jetstream import (
    arrival_sequence,
    connect_broker,
    decode_json,
    make_broker,
    subscribe_durable,
)
from nats.aio.msg import Msg

SERVICE = "reminders"
log = structlog.get_logger(__name__)


def store_from_settings(settings: RemindersSettings) -> RemindersStore:
    """MongoDB when ``MAJOROPS_MONGODB_URL`` is set, else the embedded SQLite file in the data dir."""
    if settings.mongodb_url:
        return MongoRemindersStore(settings.mongodb_url, f"{settings.mongodb_database}_{SERVICE}")
    return SqliteRemindersStore(settings.sqlite_path(SERVICE))


class RemindersRuntime:
    """The clients of one reminders process: created here, connected in :meth:`start` (never at import)."""

    def __init__(self, settings: RemindersSettings, store: RemindersStore | None = None) -> None:
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
        subscribe_durable(
            self.broker,
            service=SERVICE,
            stream=subjects.DECISIONS_STREAM,
            subject=subjects.ALL_DECISIONS,
            settings=settings,
            handle=self.on_decision,
        )

    async def on_event(self, raw: Msg) -> None:
        """``majorops.events.>``: record the event (obligations are re-derived from the record)."""
        await record_event(decode_json(raw), arrival_sequence(raw), self.store, self.extra_types)

    async def on_decision(self, raw: Msg) -> None:
        """``majorops.decisions.>``: keep the incident's newest After Action decision."""
        await record_decision(decode_json(raw), self.store)

    async def start(self) -> None:
        """Open the store, then connect and start consuming (the store must be ready first)."""
        await self.store.open()
        await connect_broker(self.broker)
        await self.broker.start()
        log.info("reminders.started", nats_url=self.settings.nats_url)

    async def stop(self) -> None:
        """Finish the messages in hand, drain the connection, then close the store."""
        try:
            await self.broker.stop()
        finally:
            await self.store.close()
        log.info("reminders.stopped")

    async def run(self) -> None:
        """Run until SIGTERM or SIGINT, then stop gracefully; a failed start ends with its error."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        watched = (signal.SIGTERM, signal.SIGINT)
        for signum in watched:
            loop.add_signal_handler(signum, stopping.set)
        log.info("reminders.starting", nats_url=self.settings.nats_url)
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
            log.info("reminders.stopping")
        finally:
            signalled.cancel()
            for signum in watched:
                loop.remove_signal_handler(signum)
            await self.stop()
