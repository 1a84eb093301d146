"""What one service process tells an operator: Prometheus metrics on ``/metrics``.

Every service has its own :class:`Telemetry` — a registry of its own, not prometheus-client's global
one, so that tests can run several services (and several replicas) in one process. It is created
with the service's broker (:func:`~majorops.shared.nats_connection.make_broker`) and found from it
(:func:`telemetry_of`), so that the shared consumer loop, the publishers and the HTTP layer all
count into the same one.

Metrics (every one labelled ``service``; no label takes an incident id or other unbounded value):

- ``majorops_events_total{via,outcome}``: ingest, events ``accepted`` or ``duplicate``
  (``via``: ``http`` or ``nats``);
- ``majorops_requests_rejected_total{via,reason}``: ingest, requests refused whole, by problem slug;
- ``majorops_decisions_total{requirement}``: policy, decision revisions published;
- ``majorops_escalations_total{kind,level}``, ``majorops_heads_ups_total{kind}``: reminders,
  notices published;
- ``majorops_dead_letters_total{reason}``: ``poison``, ``failed`` (last delivery), ``webhook``;
- ``majorops_messages_total{stream,outcome}``: consumed messages ``acked``, ``retried``,
  ``dead_lettered``;
- ``majorops_handler_seconds{stream}``: histogram, the handler's time per fetched batch;
- ``majorops_consumer_pending_messages{durable}``, ``majorops_consumer_ack_pending_messages``,
  ``majorops_consumer_redelivered_messages``: the durable's state, read at scrape time;
- ``majorops_store_seconds{operation}``: histogram, each store call (the port's method name);
- ``majorops_log_write_failures_total``: log writes the process dropped because they failed (a full
  log volume, an I/O error; :mod:`majorops.shared.logging`), process-wide;
- ``majorops_loop_heartbeat_age_seconds{loop}``: how long ago each consumer and background loop last
  completed a turn (:mod:`majorops.shared.heartbeat`), read at scrape time;
- ``majorops_http_requests_total{method,route,status}``, ``majorops_http_request_seconds{method,route}``:
  ingest and reports, by route template (``unmatched`` for a path no route has).

Costs are a few counter increments per batch; nothing per message asks NATS anything (the consumer
gauges are read once per scrape, one request per durable).
"""

from __future__ import annotations

import asyncio
import inspect
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from majorops.shared import tracing
from majorops.shared.heartbeat import Heartbeats
from majorops.shared.logging import log_write_failures

if TYPE_CHECKING:
    from faststream.nats import NatsBroker
    from nats.js import JetStreamContext


disable_created_metrics()  # type: ignore[no-untyped-call]  # no ``*_created`` series: they double the output and nobody graphs them

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONSUMER_INFO_TIMEOUT_SECONDS = 1.0


T = TypeVar("T")


class Durable(Protocol):
    """What the consumer gauges need of a consumer: the stream it reads and its durable's name."""

    stream: str
    durable: str


class Telemetry:
    """The metrics of one service process, and the recent trace contexts of its incidents."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.traces = tracing.RecentTraces()
        self.heartbeats = Heartbeats()
        """The process's loops (its consumers, its scheduler…): readiness and the watchdog read them."""
        r = self.registry
        r.register(_ProcessHealth(service, self.heartbeats))

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, ["service", *labels], registry=r)

        def histogram(name: str, doc: str, *labels: str) -> Histogram:
            return Histogram(name, doc, ["service", *labels], registry=r, buckets=LATENCY_BUCKETS)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, ["service", *labels], registry=r)

        self.events = counter(
            "majorops_events_total",
            "Events ingest answered for, by how they came and outcome",
            "via",
            "outcome",
        )
        self.rejected = counter(
            "majorops_requests_rejected_total",
            "Requests (one event or a batch) ingest refused whole, nothing of them accepted, by problem slug",
            "via",
            "reason",
        )
        self.decisions = counter(
            "majorops_decisions_total",
            "After Action decision revisions published, by requirement",
            "requirement",
        )
        self.escalations = counter(
            "majorops_escalations_total",
            "Escalations published, by obligation kind and level",
            "kind",
            "level",
        )
        self.heads_ups = counter(
            "majorops_heads_ups_total", "Heads-up reminders published, by deadline", "kind"
        )
        self.dead_letters = counter(
            "majorops_dead_letters_total",
            "Messages put on majorops.deadletter.<service>: poison, failed (last delivery), webhook",
            "reason",
        )
        self.messages = counter(
            "majorops_messages_total",
            "Messages consumed from a stream, by how they were settled: acked, retried, dead_lettered",
            "stream",
            "outcome",
        )
        self.handler_seconds = histogram(
            "majorops_handler_seconds", "Time the service's handler took over one fetched batch", "stream"
        )
        self.store_seconds = histogram(
            "majorops_store_seconds", "Time of each call to the store", "operation"
        )
        self.http_requests = counter(
            "majorops_http_requests_total",
            "HTTP requests answered, by route template and status",
            "method",
            "route",
            "status",
        )
        self.http_seconds = histogram(
            "majorops_http_request_seconds", "HTTP request latency, by route template", "method", "route"
        )
        self.consumer_pending = gauge(
            "majorops_consumer_pending_messages",
            "Messages not yet delivered to the durable consumer",
            "durable",
        )
        self.consumer_ack_pending = gauge(
            "majorops_consumer_ack_pending_messages",
            "Messages delivered to the durable consumer and not yet acknowledged",
            "durable",
        )
        self.consumer_redelivered = gauge(
            "majorops_consumer_redelivered_messages",
            "Messages delivered more than once and not yet acknowledged",
            "durable",
        )
        self.foreign_messages = counter(
            "majorops_foreign_messages_total",
            "Messages that reached a consumer's inbox from anything but its own durable, ignored",
            "durable",
        )

    # --- what the services count ------------------------------------------------------------------

    def count_events(self, via: str, accepted: int, duplicates: int) -> None:
        if accepted:
            self.events.labels(self.service, via, "accepted").inc(accepted)
        if duplicates:
            self.events.labels(self.service, via, "duplicate").inc(duplicates)

    def count_rejected(self, via: str, reason: str) -> None:
        self.rejected.labels(self.service, via, reason).inc()

    def decision_published(self, requirement: str) -> None:
        self.decisions.labels(self.service, requirement).inc()

    def escalation_published(self, kind: str, level: str) -> None:
        self.escalations.labels(self.service, kind, level).inc()

    def heads_up_published(self, kind: str) -> None:
        self.heads_ups.labels(self.service, kind).inc()

    def dead_lettered(self, reason: str) -> None:
        self.dead_letters.labels(self.service, reason).inc()

    def settled(self, stream: str, outcome: str, count: int = 1) -> None:
        if count:
            self.messages.labels(self.service, stream, outcome).inc(count)

    def foreign_message(self, durable: str) -> None:
        self.foreign_messages.labels(self.service, durable).inc()

    def handled(self, stream: str, seconds: float) -> None:
        self.handler_seconds.labels(self.service, stream).observe(seconds)

    def http_answered(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(self.service, method, route, str(status)).inc()
        self.http_seconds.labels(self.service, method, route).observe(seconds)

    # --- scrape time --------------------------------------------------------------------------------

    async def refresh_consumers(self, js: JetStreamContext, consumers: Sequence[Durable]) -> None:
        """Read each durable's state once (one ``consumer_info`` each, at once) into the gauges; a
        durable NATS does not answer for loses its series rather than showing an old value."""

        async def one(consumer: Durable) -> None:
            labels = (self.service, consumer.durable)
            try:
                info = await js.consumer_info(
                    consumer.stream, consumer.durable, timeout=CONSUMER_INFO_TIMEOUT_SECONDS
                )
            except Exception:
                for gauge in (self.consumer_pending, self.consumer_ack_pending, self.consumer_redelivered):
                    try:
                        gauge.remove(*labels)
                    except KeyError:
                        pass
                return
            self.consumer_pending.labels(*labels).set(info.num_pending or 0)
            self.consumer_ack_pending.labels(*labels).set(info.num_ack_pending or 0)
            self.consumer_redelivered.labels(*labels).set(info.num_redelivered or 0)

        await asyncio.gather(*(one(consumer) for consumer in consumers))

    async def exposition(self, broker: NatsBroker | None = None, consumers: Sequence[Durable] = ()) -> bytes:
        """The Prometheus text of every metric, the gauges of ``consumers`` read from NATS first."""
        if broker is not None:
            if consumers and connected(broker):
                await self.refresh_consumers(broker.connection.jetstream(), consumers)
        return generate_latest(self.registry)

    def timed_store(self, store: T) -> T:
        """``store`` with every coroutine method timed into ``majorops_store_seconds``."""
        return cast(T, TimedStore(store, self))


class _ProcessHealth(Collector):
    """What is read when scraped, not counted as it happens: the log writes dropped so far and the
    age of every loop's heartbeat."""

    def __init__(self, service: str, heartbeats: Heartbeats) -> None:
        self.service = service
        self.heartbeats = heartbeats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        failures = CounterMetricFamily(
            "majorops_log_write_failures",
            "Log writes dropped because the write failed (full disk, I/O error); the service went on",
            labels=["service"],
        )
        failures.add_metric([self.service], log_write_failures())
        yield failures
        ages = GaugeMetricFamily(
            "majorops_loop_heartbeat_age_seconds",
            "Seconds since each consumer or background loop last completed a turn",
            labels=["service", "loop"],
        )
        for beat in self.heartbeats.watched():
            ages.add_metric([self.service, beat.name], beat.age())
        yield ages


def connected(broker: NatsBroker) -> bool:
    """Whether the broker's connection is up (False before it connected)."""
    try:
        return bool(broker.connection.is_connected)
    except Exception:
        return False


class TimedStore:
    """A store whose coroutine methods are timed (``majorops_store_seconds{operation=<method>}``);
    everything else is the store's own. Wrapping at the port keeps the adapters as they are."""

    def __init__(self, store: Any, telemetry: Telemetry) -> None:
        self.__dict__["_store"] = store
        self.__dict__["_telemetry"] = telemetry
        self.__dict__["_children"] = {}

    @property
    def wrapped(self) -> Any:
        return self._store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        child = self._children.get(name)
        if child is None:
            telemetry: Telemetry = self._telemetry
            child = self._children[name] = telemetry.store_seconds.labels(telemetry.service, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                child.observe(time.perf_counter() - began)

        return timed

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._store, name, value)


# The telemetry of each broker: the consumers, publishers and HTTP layer of a service find it there.
_TELEMETRY: weakref.WeakKeyDictionary[NatsBroker, Telemetry] = weakref.WeakKeyDictionary()


def attach_telemetry(broker: NatsBroker, telemetry: Telemetry) -> Telemetry:
    _TELEMETRY[broker] = telemetry
    return telemetry


def telemetry_of(broker: NatsBroker) -> Telemetry:
    """The service's telemetry (a broker made elsewhere than by ``make_broker`` gets its own)."""
    found = _TELEMETRY.get(broker)
    if found is None:
        found = attach_telemetry(broker, Telemetry("unknown"))
    return found
