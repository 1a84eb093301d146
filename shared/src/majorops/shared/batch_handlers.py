"""What a service's handler looks like to its durable consumer (:mod:`majorops.shared.consumers`): a
:data:`BatchHandler` answering per message, made from a per-message handler (:func:`one_at_a_time`,
:func:`concurrently`) or one of decoded JSON bodies (:func:`decoding_json`), each message with its
trace span. What a handler answers, and the helpers every event consumer uses, are
:mod:`majorops.shared.outcomes`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from nats.aio.msg import Msg
from opentelemetry.trace import Span

from majorops.shared import tracing
from majorops.shared.jetstream import arrival_sequence, decode_json
from majorops.shared.outcomes import PoisonMessage

BatchHandler = Callable[[Sequence[Msg]], Awaitable[Sequence[BaseException | None]]]
"""Handles a batch; per message ``None`` (done), a :class:`PoisonMessage`, or the error to retry on."""
MessageHandler = Callable[[Msg], Awaitable[None]]

MESSAGE_SPANS: ContextVar[dict[int, Span] | None] = ContextVar("majorops_message_spans", default=None)
"""The span of each message of the batch in hand (by ``id(msg)``), for the per-message handlers."""


def message_span(msg: Msg) -> Span | None:
    """The span of a message of the batch being handled (None outside of a consumer's handling)."""
    spans = MESSAGE_SPANS.get()
    return None if spans is None else spans.get(id(msg))


@contextlib.contextmanager
def handling(msg: Msg) -> Iterator[None]:
    """Make the message's span the current one while it is handled on its own."""
    span = message_span(msg)
    if span is None:
        yield
        return
    with tracing.use(span):
        yield


def one_at_a_time(handle: MessageHandler) -> BatchHandler:
    """A batch handler running a per-message handler on each message in order."""

    async def handle_batch(batch: Sequence[Msg]) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        for msg in batch:
            try:
                with handling(msg):
                    await handle(msg)
            except Exception as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
        return outcomes

    return handle_batch


JsonBatchHandler = Callable[[Sequence[tuple[Any, int]]], Awaitable[Sequence[BaseException | None]]]
"""Handles a batch of ``(JSON body, stream sequence)``; answers per message like :data:`BatchHandler`."""


def decoding_json(handle: JsonBatchHandler) -> BatchHandler:
    """A batch handler that decodes each body as JSON with its stream sequence (its arrival) first;
    a body that is not JSON is poison, and the handler sees ``None`` in its place."""

    async def handle_batch(batch: Sequence[Msg]) -> list[BaseException | None]:
        decoded: list[tuple[Any, int]] = []
        poison: dict[int, BaseException] = {}
        for index, msg in enumerate(batch):
            try:
                decoded.append((decode_json(msg), arrival_sequence(msg)))
            except PoisonMessage as exc:
                poison[index] = exc
                decoded.append((None, 0))
        outcomes = await handle(decoded)
        return [poison.get(index, outcome) for index, outcome in enumerate(outcomes)]

    return handle_batch


def concurrently(handle: MessageHandler) -> BatchHandler:
    """A batch handler running a per-message handler on every message of the batch at once (for
    slow, independent work such as webhook POSTs with back-off)."""

    async def handle_one(msg: Msg) -> None:
        with handling(msg):
            await handle(msg)

    async def handle_batch(batch: Sequence[Msg]) -> list[BaseException | None]:
        results = await asyncio.gather(*(handle_one(msg) for msg in batch), return_exceptions=True)
        return [result if isinstance(result, BaseException) else None for result in results]

    return handle_batch
