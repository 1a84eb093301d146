"""OpenTelemetry traces across the services: one event's path ingest → policy → reminders → reports
is one trace, its context carried in W3C ``traceparent`` headers on the NATS messages.

Where the context flows
-----------------------
- HTTP (ingest, reports): :class:`~majorops.shared.http_telemetry.HttpTelemetry` starts a ``SERVER``
  span per request, the child of the request's own ``traceparent`` when it has one.
- Publishing (:func:`~majorops.shared.jetstream.publish_acked`, ``publish_acked_batch``): a
  ``PRODUCER`` span (``publish majorops.events`` …) under the current span, or under the context a
  publisher passes (``parent``); its ``traceparent`` goes into every message's headers.
- Consuming (:class:`~majorops.shared.consumers.DurableConsumer`): a ``CONSUMER`` span
  (``process MAJOROPS_EVENTS`` …) per message, the child of the message's ``traceparent``. While a
  batch of one message is handled, its span is the current one (so what the handler publishes and
  logs belongs to it); the per-message handlers (:func:`~majorops.shared.consumers.one_at_a_time`,
  ``concurrently``) make each message's span current around its own handling.
- Work that happens later than the message that caused it — policy deciding an incident for a batch
  of many messages, reminders' scheduler firing an escalation a moment after a decision arrived —
  finds the span of the incident's last handled message in :class:`RecentTraces` (kept for
  :data:`RECENT_TRACE_SECONDS`) and publishes under it. An escalation that falls due hours later
  starts a trace of its own.

Exporting is off by default: nothing is recorded, and spans cost almost nothing (the API's no-op
tracer only passes a ``traceparent`` that came in on to what goes out). With
``MAJOROPS_OTEL_EXPORTER_OTLP_ENDPOINT`` (or the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, :func:`configure_tracing` installs the SDK with an
OTLP/HTTP exporter (batched, in the background). The standard ``OTEL_*`` variables (sampler,
headers, resource attributes, ``OTEL_SERVICE_NAME``) apply as the SDK reads them.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from structlog.typing import EventDict, WrappedLogger

TRACEPARENT = "traceparent"
TRACER = trace.get_tracer("majorops")
"""A proxy: it follows whatever tracer provider is installed (none, the OTLP one, a test's)."""
ROOT = Context()
"""The empty context: a span started under it begins a new trace."""
STANDARD_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
RECENT_TRACE_SECONDS = 60.0
"""How long the span of an incident's last handled message stays the parent of what the service
publishes for the incident outside of a handler (see :class:`RecentTraces`)."""
RECENT_TRACE_INCIDENTS = 4096


def exporter_endpoint(configured: str | None) -> str | None:
    """Where spans go: ``MAJOROPS_OTEL_EXPORTER_OTLP_ENDPOINT`` (``configured``), else the standard
    variables' say; None: exporting is off."""
    if configured:
        return configured
    for name in STANDARD_ENDPOINTS:
        if os.environ.get(name):
            return os.environ[name]
    return None


def traces_url(base: str) -> str:
    """The OTLP/HTTP traces URL of a base endpoint (``http://collector:4318`` → ``…/v1/traces``)."""
    trimmed = base.rstrip("/")
    return trimmed if trimmed.endswith("/v1/traces") else f"{trimmed}/v1/traces"


def configure_tracing(service: str, configured_endpoint: str | None) -> str | None:
    """Install the SDK with an OTLP/HTTP exporter when an endpoint is set; return where spans go.

    ``MAJOROPS_OTEL_EXPORTER_OTLP_ENDPOINT`` is a base URL like the standard variable (``/v1/traces``
    is appended); without it the exporter reads the standard ``OTEL_EXPORTER_OTLP_*`` variables.
    """
    endpoint = exporter_endpoint(configured_endpoint)
    if endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: f"majorops-{service}"}
    provider = TracerProvider(resource=Resource.create(attributes))
    exporter = (
        OTLPSpanExporter(endpoint=traces_url(configured_endpoint))
        if configured_endpoint
        else OTLPSpanExporter()
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return traces_url(configured_endpoint) if configured_endpoint else endpoint


def incoming_context(headers: Mapping[str, str] | None) -> Context:
    """The context a message or request carries in its ``traceparent``; the empty one without."""
    if headers and TRACEPARENT in headers:
        return extract(headers)
    return ROOT


def inject_into(headers: MutableMapping[str, str], span: Span) -> None:
    """Put the span's ``traceparent`` into the headers (nothing for an invalid span)."""
    if span.get_span_context().is_valid:
        inject(headers, context=trace.set_span_in_context(span))


def destination(subject: str) -> str:
    """A subject's first two tokens (``majorops.events``): span names stay few whatever the incident."""
    return ".".join(subject.split(".", 2)[:2])


def incident_of(subject: str) -> str | None:
    """The incident id of ``majorops.<kind>.<incident>[.…]``; None for other subjects."""
    parts = subject.split(".", 3)
    return parts[2] if len(parts) >= 3 and parts[0] == "majorops" else None


def start_publish_span(subject: str, parent: Context | None = None, count: int = 1) -> Span:
    """A ``PRODUCER`` span for publishing to ``subject`` (``count`` messages), under ``parent`` or the
    current span."""
    span = TRACER.start_span(f"publish {destination(subject)}", context=parent, kind=SpanKind.PRODUCER)
    if span.is_recording():
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.destination.name", subject)
        if count != 1:
            span.set_attribute("messaging.batch.message_count", count)
    return span


def start_process_span(stream: str, subject: str, headers: Mapping[str, str] | None, service: str) -> Span:
    """A ``CONSUMER`` span for handling one message, the child of the message's ``traceparent``."""
    span = TRACER.start_span(f"process {stream}", context=incoming_context(headers), kind=SpanKind.CONSUMER)
    if span.is_recording():
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.destination.name", subject)
        span.set_attribute("messaging.consumer.group.name", service)
        msg_id = (headers or {}).get("Nats-Msg-Id")
        if msg_id:
            span.set_attribute("messaging.message.id", msg_id)
        incident = incident_of(subject)
        if incident:
            span.set_attribute("majorops.incident_id", incident)
    return span


def end_span(span: Span, error: BaseException | None = None) -> None:
    """End a span, marked as failed with the error if there was one."""
    if error is not None and span.is_recording():
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.end()


@contextmanager
def publishing(
    subject: str, headers: MutableMapping[str, str], parent: Context | None = None
) -> Iterator[Span]:
    """A publish span around sending one message, its ``traceparent`` put into ``headers``."""
    span = start_publish_span(subject, parent)
    inject_into(headers, span)
    try:
        yield span
    except BaseException as exc:
        end_span(span, exc)
        raise
    end_span(span)


def current_is_valid() -> bool:
    return trace.get_current_span().get_span_context().is_valid


class RecentTraces:
    """Per incident, the span context of the last message the service handled for it, for
    :data:`RECENT_TRACE_SECONDS`: what a service publishes for the incident outside of the handler
    (a batch's decisions, a scheduler's escalations) joins the trace that caused it.

    Bounded (the :data:`RECENT_TRACE_INCIDENTS` most recently noted); empty while tracing is off
    (an invalid span context is never kept).
    """

    def __init__(
        self, capacity: int = RECENT_TRACE_INCIDENTS, max_age_seconds: float = RECENT_TRACE_SECONDS
    ) -> None:
        self.capacity = capacity
        self.max_age_seconds = max_age_seconds
        self._seen: OrderedDict[str, tuple[trace.SpanContext, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def note(self, incident_id: str | None, span: Span) -> None:
        context = span.get_span_context()
        if incident_id is None or not context.is_valid:
            return
        self._seen[incident_id] = (context, time.monotonic())
        self._seen.move_to_end(incident_id)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    def parent_for(self, incident_id: str) -> Context | None:
        """The current span's context when there is one, else the incident's recent one, else None
        (a publish then starts its own trace under the current, empty, context)."""
        if current_is_valid():
            return None
        found = self._seen.get(incident_id)
        if found is None or time.monotonic() - found[1] > self.max_age_seconds:
            return None
        return trace.set_span_in_context(trace.NonRecordingSpan(found[0]), ROOT)


def add_trace_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: ``trace_id`` and ``span_id`` of the active span, when there is one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def use(span: Span) -> Any:
    """Make ``span`` the current one in a ``with`` block, without ending it on exit."""
    return trace.use_span(span, end_on_exit=False)
