"""JetStream plumbing every service shares: streams, durable pull consumers, acked publishing, dead letters.

Why manual acks: FastStream's NATS default (``REJECT_ON_ERROR``) terminates a message on any
exception, so one database hiccup would lose an event for good. Here a handler's exception naks the
message with a growing delay, and only a message that is poison (it can never be processed, see
:class:`~majorops.shared.outcomes.PoisonMessage`) or that failed ``max_deliver - 1`` times goes to
``majorops.deadletter.<service>`` with its reason — never dropped silently.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    ExternalStream,
    KeyValueConfig,
    PubAck,
    RawStreamMsg,
    StorageType,
    StreamConfig,
    StreamSource,
)
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError
from nats.js.errors import Error as JetStreamError
from nats.js.kv import KeyValue

from majorops.shared import nats_access, subjects, tracing
from majorops.shared.outcomes import PoisonMessage, UnacknowledgedPublish
from majorops.shared.settings import CommonSettings

if TYPE_CHECKING:
    from opentelemetry.context import Context

log = structlog.get_logger(__name__)


DUPLICATE_WINDOW_SECONDS = 120.0
PUBLISH_TIMEOUT_SECONDS = 5.0
MAX_RETRY_DELAY_SECONDS = 60.0


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: Sequence[str]
    description: str


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(subjects.EVENTS_STREAM, (subjects.ALL_EVENTS,), "Accepted incident lifecycle events"),
    StreamSpec(subjects.DECISIONS_STREAM, (subjects.ALL_DECISIONS,), "After Action decisions per incident"),
    StreamSpec(
        subjects.ESCALATIONS_STREAM,
        (subjects.ALL_ESCALATIONS, subjects.ALL_REMINDERS),
        "Escalations of unmet obligations and heads-up reminders",
    ),
    StreamSpec(
        subjects.DEADLETTER_STREAM, (subjects.ALL_DEADLETTERS,), "Messages a service could not process"
    ),
)


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    """The stream's config with ``replicas`` copies (``MAJOROPS_STREAM_REPLICAS``; more than one needs
    a clustered JetStream with at least that many servers)."""
    return StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        allow_direct=True,
        num_replicas=replicas,
    )


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create every stream, or bring an existing one to the current config — the replica count
    included (clustered JetStream moves a stream from R1 to R3 and back). Idempotent, replica-safe.

    Needs ``$JS.API.STREAM.CREATE|UPDATE``: what :func:`provision` does as ``admin``.
    """
    for spec in STREAMS:
        await create_or_update(js, stream_config(spec, replicas))


async def create_or_update(js: JetStreamContext, config: StreamConfig) -> None:
    """Create a stream, or bring the one that exists to ``config``."""
    try:
        await js.add_stream(config=config)
    except BadRequestError:
        await js.update_stream(config=config)


def mirror_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    """The read-only copy of a stream in the account of other systems (``OTHERS``, see
    :mod:`majorops.shared.nats_access`): same name, no subjects of its own (nobody publishes into
    it), kept up to date by the server from ``MAJOROPS``' stream through the imported API."""
    return StreamConfig(
        name=spec.name,
        description=f"Read-only mirror of MAJOROPS/{spec.name}: {spec.description}",
        mirror=StreamSource(
            name=spec.name,
            external=ExternalStream(
                api=nats_access.COPY_API, deliver=nats_access.copy_deliver_subject(spec.name)
            ),
        ),
        storage=StorageType.FILE,
        allow_direct=True,
        mirror_direct=False,
        num_replicas=replicas,
    )


async def ensure_mirrors(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the mirror of every stream in ``OTHERS``, or bring it to ``replicas`` copies: run as
    ``replicator`` (:mod:`majorops.shared.provision`). Idempotent."""
    for spec in STREAMS:
        await create_or_update(js, mirror_config(spec, replicas))


class NotProvisioned(RuntimeError):
    """A stream or bucket is missing and creating it went unanswered: on a server with users only
    ``admin`` may create it (:func:`provision`)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} does not exist and NATS did not create it (on a server with users only admin may): "
            "provision first, as admin (python -m majorops.shared.provision; majorops up does it itself)"
        )


def _differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    """Whether a stream's config lacks what :func:`stream_config` sets (other fields are the server's).

    The replica count is not compared: it is the deployment's, set by :func:`provision`, and a
    service started without ``MAJOROPS_STREAM_REPLICAS`` must not scale a stream down."""
    return (
        sorted(current.subjects or ()) != sorted(wanted.subjects or ())
        or current.description != wanted.description
        or current.storage != wanted.storage
        or current.duplicate_window != wanted.duplicate_window
        or bool(current.allow_direct) != bool(wanted.allow_direct)
    )


async def require_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Make sure every stream exists, asking only for what is missing or out of date.

    Each stream is looked at (``$JS.API.STREAM.INFO``); one that is missing is created and one whose
    config lacks what :func:`stream_config` sets is updated. Where ``admin`` provisioned the streams
    (:func:`provision`, a server with users) nothing is missing, so a service needs no permission to
    create streams and sends no request the server would refuse (a refused request only times out).
    On a server without users a service keeps creating what it needs, as before, with ``replicas``
    copies. An update that is refused is logged and the service carries on with the stream as it is.
    """
    for spec in STREAMS:
        config = stream_config(spec, replicas)
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(config=config)
            except BadRequestError:  # another replica created it meanwhile
                await js.update_stream(config=config)
            except TimeoutError as exc:  # nats-server refuses by not answering
                raise NotProvisioned(f"stream {spec.name}") from exc
            continue
        if _differs(info.config, config):
            config.num_replicas = info.config.num_replicas
            try:
                await js.update_stream(config=config)
            except (JetStreamError, TimeoutError) as exc:
                log.warning("stream.update_refused", stream=spec.name, error=repr(exc))


async def streams_present(js: JetStreamContext, names: Sequence[str]) -> bool:
    """True when every named stream exists (readiness)."""
    try:
        for name in names:
            await js.stream_info(name)
    except NotFoundError:
        return False
    return True


INGEST_SEEN_DESCRIPTION = "Event ids ingest accepted"


def key_value_config(bucket: str, description: str, replicas: int = 1) -> KeyValueConfig:
    return KeyValueConfig(bucket=bucket, description=description, storage=StorageType.FILE, replicas=replicas)


async def ensure_key_value(
    js: JetStreamContext, bucket: str, description: str, replicas: int = 1
) -> KeyValue:
    """Open a file-backed key-value bucket, creating it on first use (with ``replicas`` copies).

    Opening an existing bucket is one ``$JS.API.STREAM.INFO.KV_<bucket>``: no create permission.
    """
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        try:
            return await js.create_key_value(config=key_value_config(bucket, description, replicas))
        except BadRequestError:  # another replica created it meanwhile
            return await js.key_value(bucket)
        except TimeoutError as exc:
            raise NotProvisioned(f"key-value bucket {bucket}") from exc


async def provision(js: JetStreamContext, replicas: int = 1) -> None:
    """Create or update every stream and ingest's key-value bucket, each with ``replicas`` copies
    (``MAJOROPS_STREAM_REPLICAS``): run as ``admin`` before the services start on a server with users
    (they may not create streams, see :mod:`majorops.shared.nats_access`); harmless to run again.

    A stream or bucket that exists with another replica count is updated to this one (clustered
    JetStream adds or removes the copies while it stays available).
    """
    await ensure_streams(js, replicas)
    await ensure_key_value(js, subjects.INGEST_SEEN_BUCKET, INGEST_SEEN_DESCRIPTION, replicas)
    bucket_stream = f"KV_{subjects.INGEST_SEEN_BUCKET}"
    config = (await js.stream_info(bucket_stream)).config
    if config.num_replicas != replicas:
        config.num_replicas = replicas
        await js.update_stream(config=config)


async def publish_acked(
    js: JetStreamContext,
    subject: str,
    payload: bytes,
    msg_id: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = PUBLISH_TIMEOUT_SECONDS,
    parent: Context | None = None,
) -> PubAck:
    """Publish with ``Nats-Msg-Id`` and wait for the PubAck; raise :class:`~majorops.shared.outcomes.UnacknowledgedPublish`.

    The message carries the ``traceparent`` of a publish span under ``parent`` (the current span
    when None; see :mod:`majorops.shared.tracing`)."""
    all_headers = {"Nats-Msg-Id": msg_id, **(headers or {})}
    with tracing.publishing(subject, all_headers, parent):
        try:
            return await js.publish(subject, payload, timeout=timeout, headers=all_headers)
        except Exception as exc:
            raise UnacknowledgedPublish(f"publish to {subject} not acknowledged: {exc}") from exc


async def publish_acked_batch(
    js: JetStreamContext,
    messages: Sequence[tuple[str, bytes, str]],
    *,
    timeout: float = PUBLISH_TIMEOUT_SECONDS,
    parents: Sequence[Context | None] | None = None,
) -> list[PubAck]:
    """Publish ``(subject, payload, msg_id)`` messages pipelined, in order, and await every PubAck.

    One round trip per batch instead of one per message; the stream stores them in the order given.
    Raises :class:`~majorops.shared.outcomes.UnacknowledgedPublish` if any of them was not acknowledged in time.

    Tracing: one publish span for the batch under the current span, its ``traceparent`` on every
    message; with ``parents`` (one per message), one span per message under its own parent.
    """
    if not messages:
        return []
    spans = (
        [
            tracing.start_publish_span(subject, parent)
            for (subject, _, _), parent in zip(messages, parents, strict=True)
        ]
        if parents is not None
        else [tracing.start_publish_span(messages[0][0], count=len(messages))] * len(messages)
    )
    error: BaseException | None = None
    try:
        futures = []
        for (subject, payload, msg_id), span in zip(messages, spans, strict=True):
            headers = {"Nats-Msg-Id": msg_id}
            tracing.inject_into(headers, span)
            futures.append(await js.publish_async(subject, payload, headers=headers, wait_stall=timeout))
        return list(await asyncio.wait_for(asyncio.gather(*futures), timeout))
    except Exception as exc:
        error = exc
        raise UnacknowledgedPublish(f"batch of {len(messages)} not acknowledged: {exc!r}") from exc
    finally:
        for span in {id(span): span for span in spans}.values():
            tracing.end_span(span, error)


async def stored_with_msg_id(
    js: JetStreamContext, stream: str, subject: str, msg_id: str
) -> RawStreamMsg | None:
    """The message of ``stream`` on ``subject`` whose ``Nats-Msg-Id`` is ``msg_id``, or None: the
    subject's messages walked with direct gets (no consumer, from any replica).

    What tells, beyond JetStream's two-minute duplicate window, whether a message was published
    already (a second publish would no longer be dropped); meant for subjects holding a handful of
    messages (one incident's events of one type, one incident's escalations of one kind). Needs
    ``$JS.API.DIRECT.GET.<stream>``."""
    seq = 1
    while True:
        try:
            msg = await js.get_msg(stream, seq=seq, subject=subject, next=True, direct=True)
        except NotFoundError:
            return None
        if (msg.headers or {}).get("Nats-Msg-Id") == msg_id:
            return msg
        if msg.seq is None:
            return None
        seq = msg.seq + 1


@dataclass
class DeadLetter:
    """The payload on ``majorops.deadletter.<service>``."""

    service: str
    reason: str
    subject: str
    stream: str | None
    stream_sequence: int | None
    num_delivered: int | None
    payload: str
    headers: dict[str, str] = field(default_factory=dict)
    dead_lettered_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat().replace("+00:00", "Z")
    )

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, ensure_ascii=False).encode()


async def dead_letter(js: JetStreamContext, service: str, raw: Msg, reason: str) -> None:
    """Put a message on the service's dead-letter subject, acknowledged, with why it failed there."""
    meta = message_metadata(raw)
    letter = DeadLetter(
        service=service,
        reason=reason,
        subject=raw.subject,
        stream=meta.get("stream"),
        stream_sequence=meta.get("stream_seq"),
        num_delivered=meta.get("num_delivered"),
        payload=raw.data.decode("utf-8", errors="replace"),
        headers=dict(raw.headers or {}),
    )
    msg_id = f"dl:{service}:{letter.stream}:{letter.stream_sequence}"
    await publish_acked(js, subjects.deadletter_subject(service), letter.to_json(), msg_id)


def arrival_sequence(raw: Msg) -> int:
    """The message's JetStream stream sequence: the order it reached the system (breaks time ties)."""
    return int(raw.metadata.sequence.stream)


def message_metadata(raw: Msg) -> dict[str, Any]:
    """Stream, stream sequence and delivery count of a JetStream message (empty for a core one)."""
    try:
        md = raw.metadata
    except Exception:  # not a JetStream message
        return {}
    return {
        "stream": md.stream,
        "stream_seq": md.sequence.stream if md.sequence else None,
        "num_delivered": md.num_delivered,
    }


def retry_delay(settings: CommonSettings, num_delivered: int) -> float:
    """Exponential back-off for a failed delivery, capped."""
    return float(min(settings.retry_delay_seconds * 2 ** max(num_delivered - 1, 0), MAX_RETRY_DELAY_SECONDS))


def decode_json(raw: Msg) -> Any:
    """The JSON body of a message; a body that is not JSON is poison."""
    try:
        return json.loads(raw.data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"body is not JSON: {exc}") from exc
