"""``majorops.ingest``: events sent as a NATS request, answered with the same JSON as the HTTP answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage

from majorops.ingest.domain.batch import IngestOutcome
from majorops.ingest.handlers import NATS_SENDER, Sender
from majorops.shared import subjects
from majorops.shared.problems import Problem
from majorops.shared.tracing import TRACER, incoming_context

REQUEST_WORKERS = 8

Ingest = Callable[[bytes, Sender], Awaitable[IngestOutcome | Problem]]
"""A body from a sender to its outcome or problem (the runtime's ``ingest``)."""


async def undecoded(message: Any) -> bytes:
    """The body of a ``majorops.ingest`` request as it came. FastStream would parse it as JSON
    before the handler (leniently, and raising without any answer on a deep nesting, or on a body
    its content-type header misnames); the handler parses it strictly, as HTTP bodies are."""
    return bytes(message.body)


def subscribe_requests(broker: NatsBroker, ingest: Ingest) -> None:
    """Answer ``majorops.ingest`` requests (queue group ``majorops-ingest``) with ``ingest``;
    concurrently, as HTTP requests are (one at a time capped NATS ingest)."""

    async def on_request(msg: NatsMessage) -> dict[str, Any]:
        """The reply is the same JSON as the HTTP answer (in the trace of the request's
        ``traceparent``, when it has one)."""
        context = incoming_context(msg.headers)
        with TRACER.start_as_current_span(f"process {subjects.INGEST_REQUEST}", context=context):
            result = await ingest(msg.body, NATS_SENDER)
        return result.as_dict()

    broker.subscriber(
        subjects.INGEST_REQUEST,
        queue=subjects.INGEST_QUEUE_GROUP,
        max_workers=REQUEST_WORKERS,
        decoder=undecoded,
    )(on_request)
