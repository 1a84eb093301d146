"""Who may do what on NATS: two accounts, one user per service, and the walls between them (issues 9
and 20).

**Two accounts.** The services and ``admin`` live in the account ``MAJOROPS``; other systems live in
``OTHERS``. An account is a subject space of its own, enforced by nats-server: nothing published,
subscribed or stored in one is seen in the other except what ``MAJOROPS`` exports and ``OTHERS``
imports (:data:`EXPORTS`, :data:`IMPORTS`):

- the ``majorops.ingest`` service (requests go in, ingest's answer comes back to the requester);
- read-only copies of the four streams. ``OTHERS`` holds a *mirror* of each stream under the same
  name (``MAJOROPS_EVENTS``…), which the server keeps up to date through a consumer it drives on the
  original. The user ``replicator`` creates the mirrors once (:func:`majorops.shared.provision`);
  nobody in ``OTHERS`` may use the imported JetStream API (:data:`COPY_API`) itself.

So an other system's client, with any library's defaults (``$JS.API``, ``_INBOX.``), reads the
events, decisions, escalations and dead letters with consumers of its own — push, pull, ordered,
ephemeral or durable: they are made on its account's mirror and can deliver only into ``OTHERS``.
It can neither create a consumer on a service's stream, nor see a service's inbox, nor deliver into
one. A mirror has no subjects, so nobody can publish into it either.

Why not one account with a read-only user (issue 9's design): nats-server does not check the
``deliver_subject`` of a push consumer (nats-io/nats-server#8274), so anyone who may create a
consumer on a stream can have the server deliver it into any subject of the account — a service's
fetch inbox included, whose name the ``_INBOX.>`` traffic and the monitoring endpoint reveal. Issue
20 showed a read-only user forging escalations and decisions that way.

**Inside** ``MAJOROPS`` each service has its own inbox prefix (``_INBOX_<service>``, :func:`inbox_prefix`)
and may subscribe only to that and (ingest) its request subject, so one service cannot read another's
replies. It may use only its own durables and publish only its own subjects. As a second wall, a
consumer takes a fetched message only when the server delivered it from that consumer's own
durable (:mod:`majorops.shared.consumers`), and the internal payloads are strict (no unknown field).

JetStream is reached through subjects, so its permissions are subjects (nats-py 2.x):

- ``$JS.API.STREAM.INFO.<stream>``: a service checks at start that the streams it needs exist.
- ``$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>``: create or update one's own durable;
  ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>``: fetch; ``$JS.ACK.<stream>.<durable>.>``: ack,
  nak, term and in-progress; ``$JS.API.CONSUMER.INFO.<stream>.<durable>``: its backlog
  (``majorops_consumer_*`` on ``/metrics``). Reminders also reads ``policy-events``' ack floor.
- ``$JS.API.STREAM.MSG.GET.<stream>`` and ``$JS.API.DIRECT.GET.<stream>[.<subject>]``: one message
  by sequence or last by subject (reminders, policy; ingest on its key-value bucket, and on the
  events of one incident and type, to tell whether a claimed id was published before a crash).
- ``$KV.<bucket>.<key>``: a key-value ``put`` or ``create`` is a JetStream publish to that subject.

Stream and key-value bucket creation is only ``admin``'s (in ``MAJOROPS``) and ``replicator``'s (the
mirrors in ``OTHERS``). The rendering into nats-server's config is :mod:`majorops.shared.nats_config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from majorops.shared import subjects
from majorops.shared.events import EventType

MAJOROPS_ACCOUNT: Final = "MAJOROPS"
OTHERS_ACCOUNT: Final = "OTHERS"

ADMIN: Final = "admin"
INGEST: Final = "ingest"
POLICY: Final = "policy"
REMINDERS: Final = "reminders"
REPORTS: Final = "reports"
CONSUMER: Final = "consumer"
REPLICATOR: Final = "replicator"

SERVICE_USERS: Final = (INGEST, POLICY, REMINDERS, REPORTS)
"""The user each service connects as (the user's name is the service's)."""

REMINDERS_NOTIFIER: Final = "reminders-notifier"
"""The name reminders' webhook notifier gives its durable (``subjects.durable_name``)."""

JS_API: Final = "$JS.API"
DEFAULT_INBOX: Final = "_INBOX"
KV_STREAM_PREFIX: Final = "KV_"

COPY_API: Final = "$JS.majorops.API"
"""Where ``OTHERS`` reaches ``MAJOROPS``' consumer creation, for its mirrors only (nats-server drives
them); no user of ``OTHERS`` may publish under it."""
COPY_DELIVER_ROOT: Final = "majorops.copy"
"""The subjects ``MAJOROPS`` delivers the mirrors' messages on (``majorops.copy.<stream>.<id>``)."""

STREAMS: Final = (
    subjects.EVENTS_STREAM,
    subjects.DECISIONS_STREAM,
    subjects.ESCALATIONS_STREAM,
    subjects.DEADLETTER_STREAM,
)

REPORTS_EVENT_TYPES: Final = (
    EventType.ACTIONITEM_CREATED,
    EventType.ACTIONITEM_UPDATED,
    EventType.ACTIONITEM_COMPLETED,
    EventType.REVIEW_PUBLISHED,
)
"""The event types reports emits itself (``reports.handlers.reports_event`` and its callers)."""

DURABLES: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    POLICY: ((subjects.EVENTS_STREAM, subjects.durable_name(POLICY, subjects.EVENTS_STREAM)),),
    REMINDERS: (
        (subjects.EVENTS_STREAM, subjects.durable_name(REMINDERS, subjects.EVENTS_STREAM)),
        (subjects.DECISIONS_STREAM, subjects.durable_name(REMINDERS, subjects.DECISIONS_STREAM)),
        (
            subjects.ESCALATIONS_STREAM,
            subjects.durable_name(REMINDERS_NOTIFIER, subjects.ESCALATIONS_STREAM),
        ),
    ),
    REPORTS: tuple(
        (stream, subjects.durable_name(REPORTS, stream))
        for stream in (subjects.EVENTS_STREAM, subjects.DECISIONS_STREAM, subjects.ESCALATIONS_STREAM)
    ),
}
"""``(stream, durable)`` of every durable pull consumer each service uses; nobody else may use them."""


def inbox_prefix(user: str | None) -> str:
    """The inbox prefix a client connecting as ``user`` uses: ``_INBOX_<service>`` for a service
    (only it may subscribe there), the libraries' default ``_INBOX`` for anyone else."""
    return f"{DEFAULT_INBOX}_{user}" if user in SERVICE_USERS else DEFAULT_INBOX


def own_inbox(user: str) -> str:
    return f"{inbox_prefix(user)}.>"


def copy_deliver_subject(stream: str) -> str:
    """The prefix the server delivers ``stream``'s mirror on (it appends an id of its own)."""
    return f"{COPY_DELIVER_ROOT}.{stream}"


@dataclass(frozen=True)
class Permissions:
    """One user's ``permissions`` map: deny wins over allow; nothing allowed is denied."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()
    subscribe_deny: tuple[str, ...] = ()
    allow_responses: bool = False
    """Publish to the reply subject of a request received (once), whatever ``publish`` says."""


@dataclass(frozen=True)
class NatsUser:
    name: str
    purpose: str
    permissions: Permissions | None = field(default=None)
    """None: no restriction within its account (admin)."""
    account: str = MAJOROPS_ACCOUNT


@dataclass(frozen=True)
class Export:
    """What ``MAJOROPS`` offers ``OTHERS``: a ``service`` (requests in, answers back) or a ``stream``
    (messages published in ``MAJOROPS`` seen in ``OTHERS``)."""

    kind: str
    subject: str
    local: str | None = None
    """The subject in the importing account, when not the same."""


def stream_info(*streams: str) -> tuple[str, ...]:
    return tuple(f"{JS_API}.STREAM.INFO.{stream}" for stream in streams)


def durable_use(stream: str, durable: str) -> tuple[str, ...]:
    """Create or update one's durable (nats-py's ``add_consumer`` of a config with ``durable_name``),
    read its state, fetch from it, and settle (ack, nak, term, in progress) what it delivered."""
    return (
        f"{JS_API}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
        f"{JS_API}.CONSUMER.INFO.{stream}.{durable}",
        f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    )


def durables_of(user: str) -> tuple[str, ...]:
    return tuple(
        grant for stream, durable in DURABLES.get(user, ()) for grant in durable_use(stream, durable)
    )


def reports_event_subjects() -> tuple[str, ...]:
    return tuple(subjects.event_subject("*", event_type.value) for event_type in REPORTS_EVENT_TYPES)


def _mirror_exports(stream: str) -> tuple[Export, ...]:
    """What a mirror in ``OTHERS`` needs of ``stream``: consumer creation (both forms of the
    subject), the deliveries, and the flow-control replies going back (without those a mirror stalls
    after its first megabyte)."""
    create = f"{JS_API}.CONSUMER.CREATE.{stream}"
    copy_create = f"{COPY_API}.CONSUMER.CREATE.{stream}"
    return (
        Export("service", create, copy_create),
        Export("service", f"{create}.>", f"{copy_create}.>"),
        Export("stream", f"{copy_deliver_subject(stream)}.>"),
        Export("service", f"$JS.FC.{stream}.>"),
    )


EXPORTS: Final[tuple[Export, ...]] = (
    Export("service", subjects.INGEST_REQUEST),
    *(export for stream in STREAMS for export in _mirror_exports(stream)),
)
"""``MAJOROPS``' exports, each to ``OTHERS`` only; ``OTHERS`` imports each of them (``local``)."""


KV_STREAM: Final = f"{KV_STREAM_PREFIX}{subjects.INGEST_SEEN_BUCKET}"

USERS: Final[tuple[NatsUser, ...]] = (
    NatsUser(
        ADMIN,
        "Creates and updates the streams and the key-value bucket (majorops.shared.jetstream.provision) "
        "and runs operator commands (majorops deadletter list|replay, which republishes to any subject)",
    ),
    NatsUser(
        INGEST,
        "Publishes accepted events, claims and records their ids in its key-value bucket, answers "
        "majorops.ingest",
        Permissions(
            publish=(
                subjects.ALL_EVENTS,
                f"$KV.{subjects.INGEST_SEEN_BUCKET}.>",
                *stream_info(*STREAMS, KV_STREAM),
                f"{JS_API}.STREAM.MSG.GET.{KV_STREAM}",
                # Is an event whose id was claimed before a crash already stored? (one type of one
                # incident, read from any replica; never published twice)
                f"{JS_API}.DIRECT.GET.{subjects.EVENTS_STREAM}",
            ),
            subscribe=(f"{subjects.INGEST_REQUEST} {subjects.INGEST_QUEUE_GROUP}", own_inbox(INGEST)),
            allow_responses=True,
        ),
    ),
    NatsUser(
        POLICY,
        "Consumes the events (policy-events), publishes the decisions",
        Permissions(
            publish=(
                subjects.ALL_DECISIONS,
                subjects.deadletter_subject(POLICY),
                *stream_info(*STREAMS),
                *durables_of(POLICY),
                f"{JS_API}.DIRECT.GET.{subjects.DECISIONS_STREAM}.{subjects.ALL_DECISIONS}",
            ),
            subscribe=(own_inbox(POLICY),),
        ),
    ),
    NatsUser(
        REMINDERS,
        "Consumes the events and decisions (and the escalations, for webhooks), publishes escalations "
        "and reminders",
        Permissions(
            publish=(
                subjects.ALL_ESCALATIONS,
                subjects.ALL_REMINDERS,
                subjects.deadletter_subject(REMINDERS),
                *stream_info(*STREAMS),
                *durables_of(REMINDERS),
                # Has policy decided on every event? (reads its ack floor; fetching stays policy's)
                f"{JS_API}.CONSUMER.INFO.{subjects.EVENTS_STREAM}.{subjects.durable_name(POLICY, subjects.EVENTS_STREAM)}",
                f"{JS_API}.STREAM.MSG.GET.{subjects.EVENTS_STREAM}",
                f"{JS_API}.STREAM.MSG.GET.{subjects.DECISIONS_STREAM}",
                f"{JS_API}.DIRECT.GET.{subjects.ESCALATIONS_STREAM}",
            ),
            subscribe=(own_inbox(REMINDERS),),
        ),
    ),
    NatsUser(
        REPORTS,
        "Consumes events, decisions and escalations, publishes the action item and review events it emits",
        Permissions(
            publish=(
                *reports_event_subjects(),
                subjects.deadletter_subject(REPORTS),
                *stream_info(*STREAMS),
                *durables_of(REPORTS),
            ),
            subscribe=(own_inbox(REPORTS),),
        ),
    ),
    NatsUser(
        CONSUMER,
        "Other systems, in their own account: read the mirrors of the streams with consumers of their "
        "own (any kind) and send events as majorops.ingest requests",
        Permissions(
            publish=(
                subjects.INGEST_REQUEST,
                f"{JS_API}.INFO",
                f"{JS_API}.STREAM.NAMES",
                f"{JS_API}.STREAM.LIST",
                f"{JS_API}.STREAM.INFO.*",
                f"{JS_API}.STREAM.MSG.GET.*",
                f"{JS_API}.DIRECT.GET.>",
                f"{JS_API}.CONSUMER.>",
                "$JS.ACK.>",
                "$JS.FC.>",
            ),
            # Nobody answers another system's ingest request or reads the mirrors' own deliveries.
            subscribe=(">",),
            subscribe_deny=(subjects.INGEST_REQUEST, f"{COPY_DELIVER_ROOT}.>"),
        ),
        OTHERS_ACCOUNT,
    ),
    NatsUser(
        REPLICATOR,
        "Creates and updates the read-only mirrors of the streams in the account of other systems "
        "(majorops.shared.provision)",
        Permissions(
            publish=(
                f"{JS_API}.INFO",
                f"{JS_API}.STREAM.NAMES",
                f"{JS_API}.STREAM.INFO.*",
                f"{JS_API}.STREAM.CREATE.*",
                f"{JS_API}.STREAM.UPDATE.*",
            ),
            subscribe=(f"{DEFAULT_INBOX}.>",),
        ),
        OTHERS_ACCOUNT,
    ),
)

USER_NAMES: Final = tuple(user.name for user in USERS)
ACCOUNTS: Final = (MAJOROPS_ACCOUNT, OTHERS_ACCOUNT)


def user(name: str) -> NatsUser:
    for candidate in USERS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no NATS user {name!r}; the users are {', '.join(USER_NAMES)}")


def service_env(user: str, password: str) -> dict[str, str]:
    """The environment a service (or a tool) is started with to connect as ``user``."""
    if user not in USER_NAMES:
        raise ValueError(f"no NATS user {user!r}; the users are {', '.join(USER_NAMES)}")
    return {"MAJOROPS_NATS_USER": user, "MAJOROPS_NATS_PASSWORD": password}


def generate_passwords() -> dict[str, str]:
    """A fresh random password per user (for ``majorops up``'s embedded server)."""
    import secrets

    return {name: secrets.token_urlsafe(24) for name in USER_NAMES}
