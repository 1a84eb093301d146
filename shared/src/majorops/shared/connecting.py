"""Connecting a service to NATS and starting its durable consumers: the streams made sure of, the
durables created or updated, then each consumer's loop (:mod:`majorops.shared.consumers`) started.

The consumers are the runtime's own list, passed in: nothing here remembers them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import structlog
from faststream.nats import NatsBroker
from nats.aio.client import Client

from majorops.shared import subjects
from majorops.shared.batch_handlers import BatchHandler
from majorops.shared.consumers import DurableConsumer
from majorops.shared.jetstream import require_streams
from majorops.shared.provision import WAIT_SECONDS as JETSTREAM_FORMING_WAIT_SECONDS
from majorops.shared.provision import not_ready
from majorops.shared.settings import CommonSettings
from majorops.shared.telemetry import telemetry_of

log = structlog.get_logger(__name__)


def events_consumer(service: str, settings: CommonSettings, handle_batch: BatchHandler) -> DurableConsumer:
    """The service's durable consumer of every incident event (policy, reminders, reports)."""
    return DurableConsumer(
        service=service,
        stream=subjects.EVENTS_STREAM,
        subject=subjects.ALL_EVENTS,
        settings=settings,
        handle_batch=handle_batch,
    )


async def connect_broker(
    broker: NatsBroker, consumers: Sequence[DurableConsumer] = (), *, stream_replicas: int = 1
) -> Client:
    """Connect, make sure every stream exists, and create or update the durables of ``consumers``.

    Streams are only looked at, and created or updated when missing or out of date (see
    :func:`~majorops.shared.jetstream.require_streams`): on a server with users ``admin`` provisioned
    them and a service may not. A JetStream still electing its leaders (a node or the whole cluster
    just restarted) is asked again for up to :data:`JETSTREAM_FORMING_WAIT_SECONDS` instead of the
    replica exiting on its first timeout. Create-or-update of the durables means a changed
    ``MAJOROPS_ACK_WAIT_SECONDS``, ``MAJOROPS_MAX_DELIVER`` or ``MAJOROPS_MAX_ACK_PENDING`` takes
    effect at the next start (the last replica started wins). A stream a service creates itself (a
    server without users) gets ``stream_replicas`` copies (``MAJOROPS_STREAM_REPLICAS``).
    """
    connection = await broker.connect()
    js = connection.jetstream()
    deadline = time.monotonic() + JETSTREAM_FORMING_WAIT_SECONDS
    while True:
        try:
            await require_streams(js, stream_replicas)
            for consumer in consumers:
                await consumer.ensure(js)
            return connection
        except Exception as exc:
            if not not_ready(exc) or time.monotonic() >= deadline:
                raise
            log.warning("jetstream.not_ready", error=repr(exc), retry_in_seconds=1.0)
            await asyncio.sleep(1.0)


async def start_consumers(broker: NatsBroker, consumers: Sequence[DurableConsumer]) -> None:
    """Start the broker's FastStream subscribers, then ``consumers`` (after :func:`connect_broker`)."""
    await broker.start()
    js = broker.connection.jetstream()
    telemetry = telemetry_of(broker)
    for consumer in consumers:
        if consumer.telemetry is None:
            consumer.telemetry = telemetry
        await consumer.start(js)


async def stop_consumers(consumers: Sequence[DurableConsumer]) -> None:
    """Stop every consumer, each finishing the batch in hand."""
    await asyncio.gather(*(consumer.stop() for consumer in consumers))
