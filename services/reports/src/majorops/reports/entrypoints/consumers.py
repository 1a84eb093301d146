"""Reports' consumers, thin: decode, record, wake the assembler.

- ``reports-events`` (``majorops.events.>``), in batches: :func:`~majorops.reports.handlers.consume.record_events`;
- ``reports-decisions`` and ``reports-escalations``: each message :func:`~majorops.reports.handlers.consume.record`-ed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from nats.aio.msg import Msg

from majorops.reports.config import SERVICE, ReportsSettings
from majorops.reports.handlers.consume import DECISION, ESCALATION, Consumed, record, record_events
from majorops.reports.ports import ReportsPorts
from majorops.shared import subjects
from majorops.shared.batch_handlers import decoding_json, one_at_a_time
from majorops.shared.connecting import events_consumer
from majorops.shared.consumers import DurableConsumer
from majorops.shared.jetstream import decode_json


def consumers(
    settings: ReportsSettings, ports: Callable[[], ReportsPorts], wake: Callable[[], None]
) -> list[DurableConsumer]:
    """Reports' durable consumers; ``ports`` gives the open ports (or raises before the start),
    ``wake`` wakes the assembler after each recorded message."""

    async def on_events(batch: Sequence[tuple[Any, int]]) -> list[BaseException | None]:
        outcomes = await record_events(batch, ports())
        wake()
        return outcomes

    def recording(kind: Consumed[Any]) -> Callable[[Msg], Awaitable[None]]:
        """The subscriber of one stream of single messages: record it, wake the assembler."""

        async def handle(raw: Msg) -> None:
            await record(kind, decode_json(raw), ports())
            wake()

        return handle

    found = [events_consumer(SERVICE, settings, decoding_json(on_events))]
    for stream, subject, kind in (
        (subjects.DECISIONS_STREAM, subjects.ALL_DECISIONS, DECISION),
        (subjects.ESCALATIONS_STREAM, subjects.ALL_ESCALATIONS, ESCALATION),
    ):
        found.append(
            DurableConsumer(
                service=SERVICE,
                stream=stream,
                subject=subject,
                settings=settings,
                handle_batch=one_at_a_time(recording(kind)),
            )
        )
    return found
