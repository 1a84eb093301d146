"""What the services' tests against a real nats-server share: settings, envelopes, publishing as the
producers do, reading streams back, polling with a deadline, and cleaning up after a test.

Every test of a session shares one nats-server, its streams and the services' durable consumers, so
a test publishes under its own incident ids, reads back only those, and leaves nothing behind that a
later test's runtime would consume as a backlog (:func:`purge_incidents`). Nothing here imports
pytest: the fixtures built on it are in the repository's root ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy, RawStreamMsg
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from majorops.shared import subjects
from majorops.shared.jetstream import ensure_streams
from majorops.shared.settings import CommonSettings

T = TypeVar("T")
SettingsT = TypeVar("SettingsT", bound=CommonSettings)

DEADLINE_SECONDS = 20.0
"""How long :func:`eventually` waits by default: generous for 2 cores, never reached when all is well."""

CONSUMER_SETTINGS: dict[str, Any] = {"ack_wait_seconds": 3.0, "retry_delay_seconds": 0.2, "max_deliver": 5}
"""The durable consumer values of every test: the first runtime of a session creates a service's
durables with them, so they must not differ between tests. A short ack wait bounds how long a message
fetched by a runtime that was just stopped waits before it is redelivered."""

INGEST_TOKEN = "tests-ingest-0123456789abcdef"  # noqa: S105 - the tests' own, issued by TOKEN_SETTINGS
READ_TOKEN = "tests-read-0123456789abcdef"  # noqa: S105
WRITE_TOKEN = "tests-write-0123456789abcdef"  # noqa: S105
TOKEN_SETTINGS: dict[str, str] = {
    "ingest_tokens": f"tests:{INGEST_TOKEN}",
    "reports_read_tokens": f"reader:{READ_TOKEN}",
    "reports_write_tokens": f"editor:{WRITE_TOKEN}",
}
"""The access tokens every test runtime issues (settings of ingest and reports; ignored by the others):
``tests`` sends events, ``reader`` reads reviews, ``editor`` changes them."""


PROBE_SETTINGS: dict[str, int] = {"policy_http_port": 0, "reminders_http_port": 0}
"""No probe server in a test's service process (a test that wants one gives a free port)."""


def bearer(secret: str) -> dict[str, str]:
    """The ``Authorization`` header of a request made with this token."""
    return {"authorization": f"Bearer {secret}"}


DEFAULT_STREAM_ROOTS: tuple[tuple[str, str], ...] = (
    (subjects.EVENTS_STREAM, subjects.EVENTS_ROOT),
    (subjects.DECISIONS_STREAM, subjects.DECISIONS_ROOT),
)
"""The streams (and their subject roots) other services consume: the ones a test must clean up."""


# --- settings --------------------------------------------------------------------------------------


def settings_for(settings_class: type[SettingsT], nats_url: str, data_dir: Path, **changes: Any) -> SettingsT:
    """A service's settings for a test: this NATS, this data dir, no MongoDB, the test consumer values."""
    return settings_class(
        nats_url=nats_url,
        data_dir=data_dir,
        mongodb_url=None,
        **{**TOKEN_SETTINGS, **CONSUMER_SETTINGS, **PROBE_SETTINGS, **changes},
    )


def settings_env(settings: CommonSettings) -> dict[str, str]:
    """The environment that gives a service process the same settings as ``settings`` (as far as
    :func:`settings_for` sets them)."""
    return {
        "MAJOROPS_NATS_URL": settings.nats_url,
        "MAJOROPS_DATA_DIR": str(settings.data_dir),
        "MAJOROPS_MONGODB_URL": settings.mongodb_url or "",
        "MAJOROPS_ACK_WAIT_SECONDS": str(settings.ack_wait_seconds),
        "MAJOROPS_RETRY_DELAY_SECONDS": str(settings.retry_delay_seconds),
        "MAJOROPS_MAX_DELIVER": str(settings.max_deliver),
        **{f"MAJOROPS_{name.upper()}": value for name, value in TOKEN_SETTINGS.items()},
        **{
            f"MAJOROPS_{name.upper()}": str(getattr(settings, name, value))
            for name, value in PROBE_SETTINGS.items()
        },
    }


def unused_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (at the moment of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- envelopes and decisions -----------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as producers write times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_envelope(
    incident: str,
    event_id: str,
    type_: str,
    time: str,
    data: dict[str, Any] | None = None,
    source: str = "pagerduty/prod",
) -> dict[str, Any]:
    """A CloudEvents envelope as a producer posts it (``type_`` in full, e.g. ``majorops.incident.declared``)."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": type_,
        "time": time,
        "subject": incident,
        "data": data if data is not None else {},
    }


def contract_example_events(incident: str = "INC-1042") -> list[dict[str, Any]]:
    """CONTRACT §3's example incident, in the order it happened: alerted 09:00, declared P1 09:14
    with customer impact, resolved 11:15, closed Friday 2026-11-20 12:00."""

    def ev(n: int, kind: str, at: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return event_envelope(incident, f"{incident}-{n}", f"majorops.{kind}", at, data)

    return [
        ev(1, "alert.fired", "2026-11-20T09:00:00Z", {"alert_name": "HighLatency"}),
        ev(
            2,
            "incident.declared",
            "2026-11-20T09:14:00Z",
            {"title": "Checkout latency", "severity": "P1", "customer_impact": True},
        ),
        ev(3, "incident.resolved", "2026-11-20T11:15:00Z"),
        ev(4, "incident.closed", "2026-11-20T12:00:00Z"),
    ]


def contract_example_published(incident: str = "INC-1042", revision: int = 4) -> dict[str, Any]:
    """The decision policy publishes for :func:`contract_example_events`: CONTRACT §3's example JSON,
    plus what reminders needs beyond it (``declared_at``, ``resolved_at``) and the repeat field."""
    return {
        "incident_id": incident,
        "revision": revision,
        "requirement": "mandatory",
        "reasons": [
            {
                "rule": "critical_any_duration",
                "text": "Critical (P1) incident: After Action mandatory at any duration",
            }
        ],
        "severity": "critical",
        "duration_seconds": 8100,
        "customer_impact": True,
        "repeat_of": [],
        "closed_at": "2026-11-20T12:00:00Z",
        "deadlines": {
            "schedule_by": "2026-11-21T12:00:00Z",
            "hold_by": "2026-11-27T12:00:00Z",
            "draft_due": None,
            "publish_by": None,
            "action_review_at": None,
        },
        "declared_at": "2026-11-20T09:14:00Z",
        "resolved_at": "2026-11-20T11:15:00Z",
        "repeat_open_action_items": [],
    }


def contract_decision(incident: str, revision: int, requirement: str = "mandatory") -> dict[str, Any]:
    """A decision as CONTRACT §3 shows it (no extension fields), at any revision and requirement."""
    decision = contract_example_published(incident, revision)
    for extension in ("declared_at", "resolved_at", "repeat_open_action_items"):
        del decision[extension]
    return decision | {"requirement": requirement}


# --- JetStream -------------------------------------------------------------------------------------


@asynccontextmanager
async def connected_jetstream(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream context on a fresh connection, every stream ensured; drained on exit."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        yield js
    finally:
        await nc.drain()


async def publish_event(js: JetStreamContext, event: dict[str, Any], msg_id: str | None = None) -> int:
    """Publish an envelope as ingest does (its id as ``Nats-Msg-Id``); the stream sequence is returned."""
    ack = await js.publish(
        subjects.event_subject(event["subject"], event["type"]),
        json.dumps(event).encode(),
        headers={"Nats-Msg-Id": msg_id or event["id"]},
    )
    return ack.seq


async def publish_decision(js: JetStreamContext, body: dict[str, Any], msg_id: str | None = None) -> int:
    """Publish a decision as policy does (``<incident_id>:<revision>`` as ``Nats-Msg-Id``)."""
    ack = await js.publish(
        subjects.decision_subject(body["incident_id"]),
        json.dumps(body).encode(),
        headers={"Nats-Msg-Id": msg_id or f"{body['incident_id']}:{body['revision']}"},
    )
    return ack.seq


async def stored_messages(
    js: JetStreamContext, stream: str, subject: str, from_seq: int = 1
) -> list[RawStreamMsg]:
    """Every message of ``stream`` on ``subject`` (wildcards allowed) from ``from_seq`` on, in stream
    order, as the stream stores it (read with direct gets: no consumer, nothing acknowledged)."""
    found: list[RawStreamMsg] = []
    seq = from_seq
    while True:
        try:
            msg = await js.get_msg(stream, seq=seq, subject=subject, next=True, direct=True)
        except NotFoundError:
            return found
        assert msg.seq is not None
        found.append(msg)
        seq = msg.seq + 1


def msg_id_of(msg: RawStreamMsg | Msg) -> str:
    """The message's ``Nats-Msg-Id`` header, or ``""``."""
    return (msg.headers or {}).get("Nats-Msg-Id", "")


async def consumed_messages(
    js: JetStreamContext, stream: str, subject: str, batch: int = 256, wait: float = 0.3
) -> list[Msg]:
    """Every message of ``stream`` on ``subject``, delivered to an ephemeral pull consumer until a
    fetch waits ``wait`` seconds in vain (what a new subscriber would be given)."""
    sub = await js.pull_subscribe(
        subject,
        stream=stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=5),
    )
    found: list[Msg] = []
    try:
        while True:
            try:
                msgs = await sub.fetch(batch, timeout=wait)
            except TimeoutError:  # nats-py raises its own subclass, or asyncio's near the deadline
                return found
            for msg in msgs:
                found.append(msg)
                await msg.ack()
    finally:
        await sub.unsubscribe()


async def dead_letters(js: JetStreamContext, service: str) -> list[dict[str, Any]]:
    """Every dead letter of ``service`` (``subject``, ``payload``, ``reason``, ``service``, …)."""
    msgs = await consumed_messages(js, subjects.DEADLETTER_STREAM, subjects.deadletter_subject(service))
    return [json.loads(msg.data) for msg in msgs]


async def purge_incidents(
    js: JetStreamContext, prefix: str, streams: Sequence[tuple[str, str]] = DEFAULT_STREAM_ROOTS
) -> None:
    """Remove a test's messages (incident ids ``<prefix>`` or ``<prefix>-…``) from the session's
    streams: other services' tests later in the session would otherwise consume them as a backlog
    (and reminders would escalate these long-closed incidents)."""
    for stream, root in streams:
        info = await js.stream_info(stream, subjects_filter=f"{root}.>")
        for subject in info.state.subjects or {}:
            incident = subject.split(".")[2]
            if incident == prefix or incident.startswith(f"{prefix}-"):
                await js.purge_stream(stream, subject=subject)


async def consumers_settled(
    js: JetStreamContext, durables: Sequence[tuple[str, str]], what: str, timeout: float = DEADLINE_SECONDS
) -> None:
    """Wait until each ``(stream, durable)`` has nothing left to deliver and nothing unacknowledged."""

    async def state() -> list[tuple[int, int]]:
        out = []
        for stream, durable in durables:
            info = await js.consumer_info(stream, durable)
            out.append((info.num_pending or 0, info.num_ack_pending or 0))
        return out

    await eventually(state, lambda s: s == [(0, 0)] * len(durables), what, timeout)


def service_durables(service: str, *streams: str) -> tuple[tuple[str, str], ...]:
    """``(stream, durable)`` of each stream a service consumes."""
    return tuple((stream, subjects.durable_name(service, stream)) for stream in streams)


# --- metrics ---------------------------------------------------------------------------------------


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (the sum over the samples the labels
    given do not tell apart); 0 when there is none, as a counter that never moved shows nothing."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def scrape(base: str) -> str:
    """``GET <base>/metrics`` as Prometheus does (no token): the exposition, checked for its type."""
    import httpx

    async with httpx.AsyncClient(timeout=5) as http:
        resp = await http.get(f"{base}/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return resp.text


# --- traces ----------------------------------------------------------------------------------------


class _SpanRecorder(SpanProcessor):
    """Keeps the spans that end while a :func:`recorded_spans` block is open."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] | None = None

    def on_end(self, span: ReadableSpan) -> None:
        if self.spans is not None:
            self.spans.append(span)


_RECORDER: _SpanRecorder | None = None


@contextmanager
def recorded_spans() -> Iterator[list[ReadableSpan]]:
    """Every span this process ends inside the block, as a list filled as they end.

    The SDK becomes the process's tracer provider at the first use (a process has one for good);
    outside of a block nothing is kept.
    """
    global _RECORDER
    if _RECORDER is None:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        _RECORDER = _SpanRecorder()
        provider.add_span_processor(_RECORDER)
    spans: list[ReadableSpan] = []
    _RECORDER.spans = spans
    try:
        yield spans
    finally:
        _RECORDER.spans = None


# --- time ------------------------------------------------------------------------------------------


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    what: str,
    timeout: float = DEADLINE_SECONDS,
    interval: float = 0.05,
) -> T:
    """Poll until ``done(probe())`` and return that value, or fail after ``timeout`` seconds showing
    the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last seen: {value!r}")
        await asyncio.sleep(interval)


class Runtime(Protocol):
    """A service runtime a test starts and stops in-process."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@asynccontextmanager
async def running(*runtimes: Runtime) -> AsyncIterator[None]:
    """Start the runtimes, and stop them all whatever the test did: the session's durables are shared,
    so a runtime left running would consume the next test's messages."""
    for runtime in runtimes:
        await runtime.start()
    try:
        yield
    finally:
        await asyncio.gather(*(runtime.stop() for runtime in runtimes))


def up_command(data_dir: Path, nats_port: int, ingest_port: int, reports_port: int, *more: str) -> list[str]:
    """``majorops up`` (this environment's) on the given data dir and ports, with ``more`` options."""
    import sys

    return [
        str(Path(sys.executable).parent / "majorops"),
        "up",
        *more,
        "--data-dir",
        str(data_dir),
        "--nats-port",
        str(nats_port),
        "--ingest-port",
        str(ingest_port),
        "--reports-port",
        str(reports_port),
    ]


def processes_of(data_dir: Path) -> dict[int, str]:
    """Every live process started for this data dir (services by env, nats-server by its config path)."""
    marker = str(data_dir.resolve())
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
            state = next(
                (ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("State:")), ""
            )
        except OSError:
            continue
        if "Z (zombie)" in state:
            continue
        if f"MAJOROPS_DATA_DIR={marker}" in environ or (marker in cmdline and "nats-server" in cmdline):
            found[int(entry.name)] = cmdline
    return found
