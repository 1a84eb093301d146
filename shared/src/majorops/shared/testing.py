"""What the services' tests against a real nats-server share: settings, envelopes, publishing as the
producers do, reading streams back, polling with a deadline, and cleaning up after a test.

Every test of a session shares one nats-server, its streams and the services' durable consumers, so
a test publishes under its own incident ids, reads back only those, and leaves nothing behind that a
later test's runtime would consume as a backlog (:func:`purge_incidents`). Nothing here imports
pytest: the fixtures built on it are in the repository's root ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy, RawStreamMsg
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from majorops.shared import subjects
from majorops.shared.decisions import AfterActionDecision, Deadlines
from majorops.shared.events import EVENT_TYPE_PREFIX, CloudEvent, validate_event
from majorops.shared.jetstream import ensure_streams
from majorops.shared.problems import PROBLEM_MEDIA_TYPE
from majorops.shared.settings import CommonSettings
from majorops.shared.storage.eventlog import StoredEvent

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

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


def event_type(kind: str) -> str:
    """The full event type of ``kind``, given with or without its ``majorops.`` prefix."""
    return kind if kind.startswith(EVENT_TYPE_PREFIX) else EVENT_TYPE_PREFIX + kind


def event_envelope(
    incident: str,
    event_id: str,
    type_: str,
    time: str | datetime,
    data: dict[str, Any] | None = None,
    source: str = "pagerduty/prod",
) -> dict[str, Any]:
    """A CloudEvents envelope as a producer posts it (``type_`` with or without its ``majorops.``
    prefix; ``time`` as written, or a datetime written as :func:`iso` does)."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type(type_),
        "time": time if isinstance(time, str) else iso(time),
        "subject": incident,
        "data": data if data is not None else {},
    }


def unique_event_id(incident: str) -> str:
    """A fresh event id of ``incident``: unique across tests that share one nats-server (whose
    duplicate window would drop a second ``e-1`` as a redelivery of the first)."""
    return f"{incident}-{uuid.uuid4().hex[:8]}"


def declared_envelope(incident: str, event_id: str, **data: Any) -> dict[str, Any]:
    """``incident.declared`` as a producer posts it: P1 "Checkout latency" at 09:14 on the example
    day; keywords replace (or add) data fields."""
    declared = {"title": "Checkout latency", "severity": "P1", **data}
    return event_envelope(incident, event_id, "majorops.incident.declared", "2026-11-20T09:14:00Z", declared)


def step_envelope(incident: str, n: int, type_: str = "majorops.timeline.logged") -> dict[str, Any]:
    """The ``n``-th of a run of valid events of one incident, for tests that count them: id
    ``<incident>-e<n>``, at 09:<n mod 60> on the example day; a timeline entry ``step <n>`` by
    default, a P1 declaration for ``incident.declared``, no data for the other types."""
    data: dict[str, Any] = {}
    if type_ == "majorops.timeline.logged":
        data = {"text": f"step {n}"}
    elif type_ == "majorops.incident.declared":
        data = declared_envelope(incident, "")["data"]
    return event_envelope(incident, f"{incident}-e{n}", type_, f"2026-11-20T09:{n % 60:02d}:00Z", data)


EXAMPLE_START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
"""09:00 UTC on the day of CONTRACT §3's example incident (when its first alert fired)."""

EventTime = datetime | str | float
"""When an event happened, as a test gives it: an aware datetime, an RFC 3339 string (kept as
written), or a number of minutes after the builder's ``start``."""


@dataclass
class IncidentEvents:
    """Events of one incident as a producer sends them, built for tests.

    ``events("role.assigned", at, role="mim", person="Dana Reyes")`` (or the data as a dict after
    ``at``) is the event as ingest accepts it: validated and normalised, never hand-constructed;
    :meth:`envelope` is the JSON a producer posts. ``kind`` is the event type with or without its
    ``majorops.`` prefix. Event ids are ``<prefix>-1``, ``<prefix>-2``, … in the order built; with
    ``content_ids`` they are derived from the event's content, so the same event built twice is the
    same event (as a redelivery is); with ``unique_ids`` they are :func:`unique_event_id`.
    ``incident`` and ``event_id`` may be given per event.
    """

    incident: str = "INC-1042"
    _: KW_ONLY
    prefix: str = "e"
    source: str = "tests"
    start: datetime = EXAMPLE_START
    content_ids: bool = False
    unique_ids: bool = False
    built: int = field(default=0, init=False)
    """How many events this builder made (the number in the last ``<prefix>-<n>`` id)."""

    def __call__(self, *args: Any, **kwargs: Any) -> CloudEvent:
        """The validated event, built from the arguments of :meth:`envelope`."""
        return validate_event(self.envelope(*args, **kwargs))

    def envelope(
        self,
        kind: str,
        at: EventTime,
        data: dict[str, Any] | None = None,
        /,
        *,
        incident: str | None = None,
        event_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """The envelope as a producer posts it, not validated (a test may make it invalid)."""
        self.built += 1
        body = {**(data or {}), **fields}
        subject = incident or self.incident
        type_ = event_type(kind)
        time = self.time(at)
        if event_id is None and self.content_ids:
            content = json.dumps([type_, time, body, subject], sort_keys=True, default=str)
            event_id = hashlib.sha256(content.encode()).hexdigest()[:16]
        elif event_id is None and self.unique_ids:
            event_id = unique_event_id(subject)
        return event_envelope(
            subject, event_id or f"{self.prefix}-{self.built}", type_, time, body, self.source
        )

    def time(self, at: EventTime) -> str:
        """``at`` as the envelope's ``time``."""
        if isinstance(at, str):
            return at
        if isinstance(at, datetime):
            return iso(at)
        return iso(self.start + timedelta(minutes=at))


def event_kinds_and_data(times: SearchStrategy[datetime]) -> SearchStrategy[tuple[str, dict[str, Any]]]:
    """Hypothesis: the type (short) and valid data of one event of an incident, of every type a
    service folds; ``times`` draws the times the data names (meetings, RCA dues). A few values per
    field, so that histories repeat them: the same item, vendor or fingerprint several times."""
    from hypothesis import strategies as st

    severities = st.sampled_from(["critical", "high", "medium", "low", "P1", "p2", "P3", "p4"])
    items = st.sampled_from(["AI-1", "AI-2", "AI-3"])
    vendors = st.sampled_from(["Acme Cloud", "acme cloud ", "DNSCo"])
    stamps = times.map(iso)
    no_data = [
        "incident.confirmed",
        "incident.mitigated",
        "incident.resolved",
        "incident.closed",
        "afteraction.held",
        "review.published",
    ]
    return st.one_of(
        st.tuples(
            st.just("alert.fired"),
            st.fixed_dictionaries(
                {"alert_name": st.just("HighLatency")},
                optional={"customer_count": st.integers(0, 3), "external_impact": st.booleans()},
            ),
        ),
        st.tuples(
            st.just("incident.declared"),
            st.fixed_dictionaries(
                {"title": st.sampled_from(["Checkout latency", "Checkout down"]), "severity": severities},
                optional={"customer_impact": st.booleans()},
            ),
        ),
        st.tuples(
            st.just("incident.updated"),
            st.one_of(
                st.fixed_dictionaries({"severity": severities}),
                st.fixed_dictionaries({"customer_impact": st.booleans()}),
            ),
        ),
        st.tuples(st.sampled_from(no_data), st.just({})),
        st.tuples(
            st.just("rootcause.identified"),
            st.fixed_dictionaries(
                {"fingerprint": st.sampled_from(["db-pool-exhaustion", "dns-ttl"])},
                optional={"unusual": st.booleans()},
            ),
        ),
        st.tuples(
            st.sampled_from(["afteraction.scheduled", "afteraction.rescheduled"]),
            st.fixed_dictionaries({"meeting_at": stamps}),
        ),
        st.tuples(
            st.just("actionitem.created"),
            st.fixed_dictionaries(
                {"item_id": items, "title": st.sampled_from(["Fix pool", "Alarm"])},
                optional={"owner": st.just("@dreyes"), "due": st.just("2026-12-01")},
            ),
        ),
        st.tuples(
            st.just("actionitem.updated"),
            st.one_of(
                st.fixed_dictionaries({"item_id": items, "owner": st.sampled_from(["@dreyes", "@kim"])}),
                st.fixed_dictionaries({"item_id": items, "due": st.just("2026-12-15")}),
            ),
        ),
        st.tuples(st.just("actionitem.completed"), st.fixed_dictionaries({"item_id": items})),
        st.tuples(st.just("vendor.engaged"), st.fixed_dictionaries({"vendor": vendors})),
        st.tuples(st.just("vendor.rca_committed"), st.fixed_dictionaries({"vendor": vendors, "due": stamps})),
        st.tuples(st.just("vendor.rca_received"), st.fixed_dictionaries({"vendor": vendors})),
        st.tuples(
            st.just("role.assigned"),
            st.fixed_dictionaries(
                {"role": st.just("mim"), "person": st.sampled_from(["Dana Reyes", "@kpatel"])}
            ),
        ),
        st.tuples(st.just("timeline.logged"), st.just({"text": "note"})),
    )


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

EXAMPLE_INCIDENT = "INC-1042"
"""The incident of the contract's examples."""
EXAMPLE_CLOSE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
"""When CONTRACT §3's example incident closed: Friday 2026-11-20 12:00 UTC."""


EXAMPLE_ACTION_ITEM: dict[str, Any] = {
    "item_id": "AI-7",
    "title": "Raise pool size",
    "owner": "Sam Lee",
    "due": "2026-12-01",
}
"""The data of the examples' action item (CONTRACT §4 names AI-7): owned, due by the end of a day."""


def mandatory_decision(
    incident: str = EXAMPLE_INCIDENT, revision: int = 1, **fields: Any
) -> AfterActionDecision:
    """A decision as policy publishes it for a critical incident closed at :data:`EXAMPLE_CLOSE`:
    After Action mandatory, to be scheduled a day and held a week (5 business days) after the close;
    ``fields`` replace or add any field."""
    deadlines = Deadlines(
        schedule_by=EXAMPLE_CLOSE + timedelta(days=1), hold_by=EXAMPLE_CLOSE + timedelta(days=7)
    )
    base = {
        "incident_id": incident,
        "revision": revision,
        "requirement": "mandatory",
        "severity": "critical",
        "closed_at": EXAMPLE_CLOSE,
        "deadlines": deadlines,
    }
    return AfterActionDecision.model_validate(base | fields)


def contract_example_events(incident: str = "INC-1042") -> list[dict[str, Any]]:
    """CONTRACT §3's example incident, in the order it happened: alerted 09:00, declared P1 09:14
    with customer impact, resolved 11:15, closed Friday 2026-11-20 12:00."""

    event = IncidentEvents(incident, prefix=incident, source="pagerduty/prod").envelope
    return [
        event("alert.fired", "2026-11-20T09:00:00Z", {"alert_name": "HighLatency"}),
        event(
            "incident.declared",
            "2026-11-20T09:14:00Z",
            {"title": "Checkout latency", "severity": "P1", "customer_impact": True},
        ),
        event("incident.resolved", "2026-11-20T11:15:00Z"),
        event("incident.closed", "2026-11-20T12:00:00Z"),
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


def with_deadlines(decision: AfterActionDecision, **deadlines: datetime) -> AfterActionDecision:
    """The decision with these deadlines set as well (the others as they were)."""
    return decision.model_copy(update={"deadlines": decision.deadlines.model_copy(update=deadlines)})


LEARNING_REVIEW_KEYS = (
    "incident_id",
    "status",
    "summary",
    "timeline",
    "metrics",
    "after_action",
    "data_gaps",
    "attendees",
    "vendors",
    "root_cause",
    "went_well",
    "changes",
    "learning_statements",
    "action_items",
    "escalations",
    "lint",
)
"""The members CONTRACT §5 says a Learning Review's JSON has at least, in its order."""


def contract_example_escalation() -> dict[str, Any]:
    """CONTRACT §4's example escalation, as reminders publishes it."""
    return {
        "escalation_id": "INC-1042:after_action_not_scheduled:1",
        "incident_id": "INC-1042",
        "kind": "after_action_not_scheduled",
        "level": 1,
        "due_at": "2026-11-21T12:00:00Z",
        "fired_at": "2026-11-21T12:00:03Z",
        "notify": {"role": "mim", "person": "Dana Reyes"},
        "message": "After Action for INC-1042 not scheduled within 24 h of close",
    }


def contract_decision(incident: str, revision: int, requirement: str = "mandatory") -> dict[str, Any]:
    """A decision as CONTRACT §3 shows it (no extension fields), at any revision and requirement."""
    decision = contract_example_published(incident, revision)
    for extension in ("declared_at", "resolved_at", "repeat_open_action_items"):
        del decision[extension]
    return decision | {"requirement": requirement}


# --- fakes of the ports ---------------------------------------------------------------------------


class InMemoryEventLog:
    """The event-log part of a service's store port in a dict, with the adapters' rules: each event
    once by id (the first stored wins), read back by event time, ties by arrival. A test's fake of a
    whole store extends it with the rest of its port."""

    def __init__(self) -> None:
        self.events: dict[str, StoredEvent] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def append_event(self, event: StoredEvent) -> bool:
        if event.event_id in self.events:
            return False
        self.events[event.event_id] = event
        return True

    async def append_events(self, events: Sequence[StoredEvent]) -> list[bool]:
        return [await self.append_event(event) for event in events]

    async def events_for(self, incident_id: str) -> list[StoredEvent]:
        mine = [e for e in self.events.values() if e.incident_id == incident_id]
        return sorted(mine, key=lambda e: (e.time_utc, e.arrival))

    async def incident_ids(self) -> list[str]:
        return sorted({e.incident_id for e in self.events.values()})


def stored_note(incident: str, event_id: str, time: str, arrival: int) -> StoredEvent:
    """A timeline note (``note <event_id>``) as a store holds it, arrived at stream sequence ``arrival``."""
    envelope = event_envelope(
        incident, event_id, "timeline.logged", time, {"text": f"note {event_id}"}, "test"
    )
    return StoredEvent.from_event(validate_event(envelope), arrival)


StoreT = TypeVar("StoreT")


@asynccontextmanager
async def store_places(
    kind: str,
    service: str,
    tmp_path: Path,
    sqlite: Callable[[Path], StoreT],
    mongo: Callable[[str, str], StoreT],
    mongodb_url: Callable[[], str],
) -> AsyncIterator[Callable[[], StoreT]]:
    """Makes a service's stores (``kind``: ``sqlite`` or ``mongodb``) on one and the same place, so a
    test can close one and reopen another: a SQLite file in ``tmp_path``, or a fresh MongoDB database
    at ``mongodb_url()`` (asked only for MongoDB), dropped afterwards."""
    if kind == "sqlite":
        path = tmp_path / f"{service}.sqlite3"
        yield lambda: sqlite(path)
        return
    from majorops.shared.storage.mongo import mongo_client

    url = mongodb_url()
    database = f"majorops_test_{uuid.uuid4().hex[:8]}_{service}"
    try:
        yield lambda: mongo(url, database)
    finally:
        client: Any = mongo_client(url, "majorops-tests")
        await client.drop_database(database)
        await client.close()


class EventStore(Protocol):
    """Anything that reads an incident's stored events back (every service's store)."""

    async def events_for(self, incident_id: str) -> list[StoredEvent]: ...


async def stored_event_ids(store: EventStore, incident_id: str) -> list[str]:
    """The ids of the incident's stored events, in the store's order (event time, then arrival)."""
    return [event.event_id for event in await store.events_for(incident_id)]


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


async def published_events(nats_url: str, incident: str, limit: int = 100) -> list[Msg]:
    """Every event JetStream holds for one incident (at most ``limit``), read back through an
    ephemeral consumer, in stream order."""
    async with connected_jetstream(nats_url) as js:
        root = f"{subjects.EVENTS_ROOT}.{incident}.>"
        return await consumed_messages(js, subjects.EVENTS_STREAM, root, limit, 0.5)


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


# --- HTTP ----------------------------------------------------------------------------------------


async def http_get(url: str) -> Any:
    """``GET url`` with a fresh client (no token): the ``httpx.Response``."""
    import httpx

    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(url)


def problem_of(resp: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """The RFC 9457 document of a refusal (an ``httpx.Response``), its shape checked: the status,
    the media type, the members every problem has, the ``type`` of ``slug``, the error entries."""
    assert resp.status_code == status, resp.text[:600]
    assert resp.headers["content-type"] == PROBLEM_MEDIA_TYPE
    doc: dict[str, Any] = resp.json()
    assert {"type", "title", "status", "detail"} <= set(doc)
    assert doc["status"] == status
    if slug is not None:
        assert doc["type"] == f"https://majorops.dev/problems/{slug}", doc
    for error in doc.get("errors", []):
        assert {"field", "message"} <= set(error) <= {"field", "message", "index"}, error
        assert error["field"] and error["message"], error
    return doc


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


class ServiceProcess:
    """A service running as its own process, as a container runs it, its output in a log file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    async def stop(self, timeout: float = DEADLINE_SECONDS) -> int:
        """Stop it as an orchestrator does (SIGTERM) and wait for it; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, timeout)

    def log_text(self) -> str:
        return self.log_path.read_text()


@asynccontextmanager
async def service_process(
    service: str, environment: Mapping[str, str], log_path: Path
) -> AsyncIterator[ServiceProcess]:
    """``python -m majorops.<service>`` with this environment (over the test's own), logging to
    ``log_path``; killed on the way out if the test did not stop it."""
    env = {**os.environ, **environment}
    with log_path.open("wb") as log_file:
        # Popen only starts it (it does not wait): nothing blocks the event loop.
        process = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", f"majorops.{service}"], env=env, stdout=log_file, stderr=log_file
        )
        try:
            yield ServiceProcess(process, log_path)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def up_command(data_dir: Path, nats_port: int, ingest_port: int, reports_port: int, *more: str) -> list[str]:
    """``majorops up`` (this environment's) on the given data dir and ports, with ``more`` options."""
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
