"""Durable pull consumers that take what is waiting, a batch at a time, and settle each message.

One durable consumer per service and stream (``<service>-<stream>``), shared by the service's
replicas, with explicit acks. Each round fetches up to ``batch_size`` messages — as many as are
waiting, without waiting for a full batch — and hands them to the service's batch handler at once,
so a service can store a whole batch in one write and re-derive each incident once per batch
instead of once per event. The handler answers per message:

- ``None``: done, the message is acknowledged;
- a :class:`~majorops.shared.outcomes.PoisonMessage`: it can never be processed, it goes to ``majorops.deadletter.<service>``
  with the reason at once;
- any other exception: it is redelivered after a back-off that doubles, and dead-lettered with the
  last error on its last allowed delivery (``max_deliver``).

A handler that raises fails every message of the batch that way: nothing is acknowledged before it
is done, so ``kill -9`` at any point leaves the messages to be delivered again.

A failure of the storage under the handler rather than of the message (a full disk, an I/O error,
a JetStream that does not store: :func:`~majorops.shared.outages.storage_unavailable`) is neither
retried through JetStream nor dead-lettered: the consumer keeps those messages (telling JetStream
they are in progress) and hands them to the handler again after a pause that doubles, until they
are handled — the loop's heartbeat stops meanwhile, so ``/readyz`` names the consumer once that
lasts, and the watchdog ends the process if it lasts far longer (its messages are then delivered
again to the next process, their delivery count up by one only).

Why not FastStream's pull subscriber: its batch mode keeps fetching until the batch is full or its
timeout passes, which adds that timeout to every event's latency at low rates (or polls the server
when the timeout is short); nats-py's ``fetch`` returns what is waiting at once and long-polls only
when nothing is. The broker's connection is still FastStream's.

A service's runtime holds the list of its consumers and hands it to what needs it: connecting and
starting (:mod:`majorops.shared.connecting`), stopping (:func:`majorops.shared.lifecycle.stop_broker`),
readiness (:mod:`majorops.shared.probes`) and the consumer gauges (:mod:`majorops.shared.telemetry`).

Every batch is observed here, for every service: the handler's time
(``majorops_handler_seconds{stream}``), how each message was settled
(``majorops_messages_total{stream,outcome}``), dead letters (``majorops_dead_letters_total{reason}``)
and one trace span per message, the child of the ``traceparent`` it carries (see
:mod:`majorops.shared.tracing`).

Each consumer's loop has a heartbeat (:mod:`majorops.shared.heartbeat`), beaten at every fetch that
answers (messages or none waiting) and every batch settled: a longest healthy turn is one fetch's
wait plus a batch's handling, which the ack wait bounds (a slower batch is delivered again anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from faststream.nats import ConsumerConfig, DeliverPolicy
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from majorops.shared import subjects, tracing
from majorops.shared.batch_handlers import MESSAGE_SPANS, BatchHandler
from majorops.shared.heartbeat import Heartbeat
from majorops.shared.jetstream import dead_letter, message_metadata, retry_delay
from majorops.shared.outages import storage_unavailable
from majorops.shared.outcomes import PoisonMessage, UnacknowledgedPublish
from majorops.shared.settings import CommonSettings
from majorops.shared.telemetry import Telemetry

log = structlog.get_logger(__name__)


DEFAULT_BATCH_SIZE = 64
FETCH_WAIT_SECONDS = 5.0
"""How long one fetch long-polls when nothing is waiting (messages end the wait at once)."""
MAX_FAILURE_PAUSE_SECONDS = 10.0


ACKED, RETRIED, DEAD_LETTERED = "acked", "retried", "dead_lettered"


@dataclass
class DurableConsumer:
    """One durable pull consumer of a service on a stream, and the task that consumes it."""

    service: str
    stream: str
    subject: str
    settings: CommonSettings
    handle_batch: BatchHandler
    batch_size: int = DEFAULT_BATCH_SIZE
    durable: str = ""
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL
    telemetry: Telemetry | None = field(default=None, repr=False)
    """Where the consumer counts (the broker's, set by :func:`~majorops.shared.connecting.start_consumers`
    when not given)."""
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _stopping: bool = field(default=False, init=False, repr=False)
    _settling: bool = field(default=False, init=False, repr=False)
    heartbeat: Heartbeat = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.durable:
            self.durable = subjects.durable_name(self.service, self.stream)
        longest_turn = FETCH_WAIT_SECONDS + self.settings.ack_wait_seconds
        self.heartbeat = Heartbeat.of_loop(f"consumer {self.durable}", longest_turn)

    @property
    def config(self) -> ConsumerConfig:
        """The durable's settings, applied (create or update) at every start."""
        return ConsumerConfig(
            durable_name=self.durable,
            deliver_policy=self.deliver_policy,
            ack_wait=self.settings.ack_wait_seconds,
            max_deliver=self.settings.max_deliver,
            max_ack_pending=self.settings.max_ack_pending,
            filter_subject=self.subject,
        )

    async def ensure(self, js: JetStreamContext) -> None:
        """Create the durable, or bring it to the current settings (a bound consumer never updates)."""
        await js.add_consumer(self.stream, config=self.config)

    @property
    def bound(self) -> bool:
        """Bound to the durable and consuming (readiness)."""
        return self._task is not None and not self._task.done()

    async def start(self, js: JetStreamContext) -> None:
        """Bind to the durable and consume in the background."""
        if self.telemetry is None:
            self.telemetry = Telemetry(self.service)
        subscription = await js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
        self._stopping = False
        self.telemetry.heartbeats.add(self.heartbeat)
        self._task = self.heartbeat.watch(
            asyncio.create_task(self._run(js, subscription), name=f"consume:{self.durable}")
        )

    async def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand (its messages are settled), then stop fetching."""
        self._stopping = True
        self.heartbeat.unwatch()
        task, self._task = self._task, None
        if task is None:
            return
        if not self._settling:
            task.cancel()  # waiting in a fetch: nothing in hand
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await asyncio.wait_for(task, timeout)
            except TimeoutError:
                log.warning("consumer.stop_timeout", durable=self.durable)

    async def _run(self, js: JetStreamContext, subscription: JetStreamContext.PullSubscription) -> None:
        failures = 0
        try:
            while not self._stopping:
                try:
                    batch = await subscription.fetch(self.batch_size, timeout=FETCH_WAIT_SECONDS)
                except (TimeoutError, NatsTimeoutError):
                    self.heartbeat.beat()
                    continue  # nothing waiting (nats-py raises either kind)
                except ConnectionClosedError:
                    return
                except Exception as exc:
                    # NATS reconnecting, the consumer deleted meanwhile…: try again after a pause.
                    failures += 1
                    pause = min(0.5 * 2**failures, MAX_FAILURE_PAUSE_SECONDS)
                    log.warning(
                        "consumer.fetch_failed", durable=self.durable, error=repr(exc), retry_in_s=pause
                    )
                    await asyncio.sleep(pause)
                    continue
                failures = 0
                batch = self._own(batch)
                if not batch:
                    continue
                self._settling = True
                try:
                    await self._settle(js, batch)
                finally:
                    self._settling = False
                self.heartbeat.beat()
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    def _own(self, batch: Sequence[Msg]) -> list[Msg]:
        """What the server delivered from this very durable: the second wall behind the accounts of
        :mod:`majorops.shared.nats_access`. A message that reached the fetch inbox any other way (a
        push consumer someone pointed at it, a publish to it) cannot be acknowledged to this durable
        and is not the stream's: it is logged, counted and ignored — never handled or dead-lettered,
        so that it can neither act nor fill the dead-letter stream."""
        own: list[Msg] = []
        for msg in batch:
            if delivered_by(msg) == (self.stream, self.durable):
                own.append(msg)
                continue
            log.warning(
                "consumer.foreign_message",
                durable=self.durable,
                subject=msg.subject,
                reply=msg.reply,
                size=len(msg.data),
            )
            if self.telemetry is not None:
                self.telemetry.foreign_message(self.durable)
        return own

    async def _settle(self, js: JetStreamContext, batch: Sequence[Msg]) -> None:
        telemetry = self.telemetry or Telemetry(self.service)
        spans = [tracing.start_process_span(self.stream, m.subject, m.headers, self.service) for m in batch]
        for msg, span in zip(batch, spans, strict=True):
            telemetry.traces.note(tracing.incident_of(msg.subject), span)
        token = MESSAGE_SPANS.set({id(msg): span for msg, span in zip(batch, spans, strict=True)})
        began = time.perf_counter()
        try:
            # A batch of one (the usual case, but under load): its span is the current one throughout.
            with tracing.use(spans[0]) if len(batch) == 1 else contextlib.nullcontext():
                outcomes = list(await self.handle_batch(batch))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"handler answered {len(outcomes)} outcomes for {len(batch)} messages")
        except Exception as exc:
            outcomes = [exc] * len(batch)
        finally:
            MESSAGE_SPANS.reset(token)
            telemetry.handled(self.stream, time.perf_counter() - began)
        outcomes = await self._hold_through_outage(batch, outcomes)
        settled = {ACKED: 0, RETRIED: 0, DEAD_LETTERED: 0}
        for msg, outcome, span in zip(batch, outcomes, spans, strict=True):
            try:
                if outcome is None:
                    await msg.ack()
                    settled[ACKED] += 1
                else:
                    with tracing.use(span):
                        settled[await self._settle_failed(js, msg, outcome)] += 1
            except Exception as exc:
                # Unsettled: JetStream delivers it again after the ack wait.
                log.warning("consumer.settle_failed", durable=self.durable, error=repr(exc))
            finally:
                tracing.end_span(span, outcome)
        for outcome_name, count in settled.items():
            telemetry.settled(self.stream, outcome_name, count)

    async def _hold_through_outage(
        self, batch: Sequence[Msg], outcomes: list[BaseException | None]
    ) -> list[BaseException | None]:
        """Hand the messages whose handling failed for want of storage to the handler again, after a
        pause that doubles, until they are handled otherwise (or the consumer stops: they are left
        unsettled, for JetStream to deliver again)."""
        pause = 0.0
        while not self._stopping:
            held = [i for i, outcome in enumerate(outcomes) if storage_unavailable(outcome)]
            if not held:
                break
            pause = min(max(2 * pause, 0.5), MAX_FAILURE_PAUSE_SECONDS)
            log.warning(
                "consumer.storage_unavailable",
                durable=self.durable,
                held=len(held),
                retry_in_s=pause,
                error=repr(outcomes[held[0]]),
            )
            await asyncio.sleep(pause)
            with contextlib.suppress(Exception):
                await asyncio.gather(*(batch[i].in_progress() for i in held))
            try:
                again = list(await self.handle_batch([batch[i] for i in held]))
                if len(again) != len(held):
                    raise RuntimeError(f"handler answered {len(again)} outcomes for {len(held)} messages")
            except Exception as exc:
                again = [exc] * len(held)
            for i, outcome in zip(held, again, strict=True):
                outcomes[i] = outcome
        return outcomes

    async def _settle_failed(self, js: JetStreamContext, msg: Msg, outcome: BaseException) -> str:
        """Retry or dead-letter a message its handler failed; which of them it was."""
        meta = message_metadata(msg)
        bound = log.bind(
            subject=msg.subject,
            stream_seq=meta.get("stream_seq"),
            incident_id=tracing.incident_of(msg.subject),
            event_id=(msg.headers or {}).get("Nats-Msg-Id"),
        )
        if isinstance(outcome, PoisonMessage):
            bound.warning("message.poison", reason=str(outcome))
            return await self._dead_letter_or_retry(js, msg, f"poison: {outcome}", "poison")
        delivered = int(meta.get("num_delivered") or 1)
        if delivered >= self.settings.max_deliver:
            bound.error("message.failed_finally", num_delivered=delivered, exc_info=outcome)
            reason = f"failed {delivered} deliveries, last error: {type(outcome).__name__}: {outcome}"
            return await self._dead_letter_or_retry(js, msg, reason, "failed")
        delay = retry_delay(self.settings, delivered)
        bound.warning("message.retry", num_delivered=delivered, delay_s=delay, error=str(outcome))
        await msg.nak(delay=delay)
        return RETRIED

    async def _dead_letter_or_retry(self, js: JetStreamContext, msg: Msg, reason: str, kind: str) -> str:
        try:
            await dead_letter(js, self.service, msg, reason)
        except UnacknowledgedPublish:
            # The dead letter itself was not stored: keep the message and try again later.
            await msg.nak(delay=retry_delay(self.settings, 2))
            return RETRIED
        await msg.term()
        if self.telemetry is not None:
            self.telemetry.dead_lettered(kind)
        return DEAD_LETTERED


def delivered_by(msg: Msg) -> tuple[str, str] | None:
    """``(stream, consumer)`` of the JetStream consumer that delivered ``msg`` (from its
    ``$JS.ACK.…`` reply subject, in either of its formats), or None for anything else."""
    try:
        metadata = msg.metadata
    except Exception:  # no reply, or not an acknowledgement subject
        return None
    return metadata.stream, metadata.consumer
