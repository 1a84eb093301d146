"""What one service process tells an operator: Prometheus metrics on ``/metrics``.

Every service has its own :class:`Telemetry` — a registry of its own, not prometheus-client's global
one, so that tests can run several services (and several replicas) in one process. It is created
with the service's broker (:func:`~majorops.shared.jetstream.make_broker`) and found from it
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
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from opentelemetry.trace import SpanKind
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from majorops.shared import tracing

if TYPE_CHECKING:
    from faststream.nats import NatsBroker
    from nats.js import JetStreamContext
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from majorops.shared.consumers import DurableConsumer

disable_created_metrics()  # type: ignore[no-untyped-call]  # no ``*_created`` series: they double the output and nobody graphs them

METRICS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""Text format 0.0.4: what every Prometheus version reads (the names are all legacy ones)."""
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONSUMER_INFO_TIMEOUT_SECONDS = 1.0
UNMATCHED_ROUTE = "unmatched"
"""The ``route`` of a request no route matched (a 404): the path itself is never a label."""

T = TypeVar("T")


class Telemetry:
    """The metrics of one service process, and the recent trace contexts of its incidents."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.traces = tracing.RecentTraces()
        r = self.registry

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

    def handled(self, stream: str, seconds: float) -> None:
        self.handler_seconds.labels(self.service, stream).observe(seconds)

    def http_answered(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(self.service, method, route, str(status)).inc()
        self.http_seconds.labels(self.service, method, route).observe(seconds)

    # --- scrape time --------------------------------------------------------------------------------

    async def refresh_consumers(self, js: JetStreamContext, consumers: Sequence[DurableConsumer]) -> None:
        """Read each durable's state once (one ``consumer_info`` each, at once) into the gauges; a
        durable NATS does not answer for loses its series rather than showing an old value."""

        async def one(consumer: DurableConsumer) -> None:
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

    async def exposition(self, broker: NatsBroker | None = None) -> bytes:
        """The Prometheus text of every metric, the consumer gauges read from NATS first."""
        if broker is not None:
            from majorops.shared.consumers import consumers_of

            consumers = consumers_of(broker)
            if consumers and connected(broker):
                await self.refresh_consumers(broker.connection.jetstream(), consumers)
        return generate_latest(self.registry)

    def timed_store(self, store: T) -> T:
        """``store`` with every coroutine method timed into ``majorops_store_seconds``."""
        return cast(T, TimedStore(store, self))


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


# --- HTTP ---------------------------------------------------------------------------------------


class HttpTelemetry:
    """ASGI middleware: ``majorops_http_requests_total`` / ``majorops_http_request_seconds`` by route
    template, and the request's trace.

    Added last, so it wraps everything: a request the token gate refuses is counted too (its route
    found from the router, as the router never saw it). The ``SERVER`` span is FastAPI's own when a
    tracer provider is installed (FastAPI's native OpenTelemetry, which wraps this middleware); else
    this middleware starts a non-recording one from the request's ``traceparent``, so that a trace
    that came in still goes on in what the request publishes.
    """

    def __init__(self, app: ASGIApp, telemetry: Telemetry, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.telemetry = telemetry
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        method = scope["method"]
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            if tracing.current_is_valid():  # FastAPI's span
                await self.app(scope, receive, sending)
            else:
                headers = {
                    k.decode("latin-1"): v.decode("latin-1")
                    for k, v in scope["headers"]
                    if k == b"traceparent"
                }
                span = tracing.TRACER.start_span(
                    method, context=tracing.incoming_context(headers), kind=SpanKind.SERVER
                )
                with tracing.use(span):
                    await self.app(scope, receive, sending)
                span.end()
        finally:
            self.telemetry.http_answered(method, self.route_of(scope), status, time.perf_counter() - began)

    def route_of(self, scope: Scope) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
        from starlette.routing import Match

        for candidate in _route_candidates(self.routes()):
            if candidate.matches(scope)[0] is not Match.NONE:
                found = getattr(candidate, "path", None)
                if isinstance(found, str):
                    return found
        return UNMATCHED_ROUTE


def _route_candidates(routes: Sequence[BaseRoute]) -> Sequence[Any]:
    """The app's routes with FastAPI's included routers opened up: FastAPI keeps an ``APIRouter``
    included with ``include_router`` as one route of the app, whose own routes carry the paths."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # a plain Starlette app
        return routes
    return list(iter_route_contexts(routes))


def metrics_endpoint(telemetry: Telemetry, broker: NatsBroker | None) -> Callable[[], Awaitable[Any]]:
    """A Starlette/FastAPI endpoint answering the Prometheus text."""

    async def metrics() -> Any:
        from starlette.responses import Response

        return Response(await telemetry.exposition(broker), media_type=METRICS_CONTENT_TYPE)

    metrics.__doc__ = "Prometheus metrics of this process (text exposition format)."
    return metrics


METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format 0.0.4",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def instrument_http(app: Any, telemetry: Telemetry, broker: NatsBroker | None) -> None:
    """Give a FastAPI app ``GET /metrics`` and :class:`HttpTelemetry` (call it after the app's other
    middleware, so that this one wraps them)."""
    app.add_api_route(
        "/metrics",
        metrics_endpoint(telemetry, broker),
        methods=["GET"],
        response_model=None,
        responses=METRICS_RESPONSES,
        response_class=_plain_text_response(),
        summary="Metrics",
    )
    app.add_middleware(HttpTelemetry, telemetry=telemetry, routes=lambda: app.router.routes)


def _plain_text_response() -> Any:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse
