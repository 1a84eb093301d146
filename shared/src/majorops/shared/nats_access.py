"""Who may publish and subscribe what on NATS: one user per service, a read-only ``consumer`` for
other systems, and ``admin`` (issue 9).

Without users any client that reaches NATS can publish ``majorops.decisions.>`` or
``majorops.escalations.>`` and be believed. With the table below rendered into nats-server's
``authorization`` block (:func:`authorization_block`), each service may publish only its own
subjects and use only its own durable consumers, and a connection without a valid user and password
is refused.

JetStream is reached through subjects too, so its permissions are subjects (nats-py 2.x):

- ``$JS.API.STREAM.INFO.<stream>``: a service checks at start that the streams it needs exist
  (:func:`majorops.shared.consumers.connect_broker`), readiness checks them again.
- ``$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>``: create or update one's own durable (what
  nats-py's ``add_consumer`` sends for a config with ``durable_name`` and no ``name``).
- ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>``: fetch; ``$JS.ACK.<stream>.<durable>.>``: ack,
  nak, term and in-progress of what was fetched.
- ``$JS.API.CONSUMER.INFO.<stream>.<durable>``: reminders reads the ack floor of its events and
  decisions durables, and of ``policy-events`` (is an incident's record complete, its decision
  up to date?).
- ``$JS.API.STREAM.MSG.GET.<stream>``: one message by sequence or last by subject — reminders on the
  events and decisions streams (same question), ingest on its key-value bucket (``get``; the bucket
  has no direct get). ``$JS.API.DIRECT.GET.<stream>[.<subject>]``: the same from any replica —
  policy reads the last decision of an incident, reminders walks an incident's escalations and
  ingest an incident's events of one type (exactly once beyond the duplicate window).
- ``$KV.<bucket>.<key>``: a key-value ``put`` is a JetStream publish to that subject.
- ``_INBOX.>``: every reply (API answers, PubAcks, fetched messages) comes to the client's inbox.

Stream and key-value bucket creation (``$JS.API.STREAM.CREATE|UPDATE``) is only ``admin``'s:
:func:`majorops.shared.jetstream.provision` runs as admin before the services start.

What nats-server does not check (issue nats-io/nats-server#8274; 2.15.1, the wheel's, does not):
the ``deliver_subject`` of a JetStream *push* consumer. Anyone allowed to create a consumer can have
the server deliver a stream's messages to any subject — ``majorops.decisions.<id>`` included, where
the decisions stream stores them as if published there — and the server does deliver as soon as
some client subscribes exactly that subject. So no user but ``admin`` may core-subscribe a subject
a stream stores: ``consumer`` reads through pull consumers (fetched messages come to its inbox) and
the services subscribe only their inboxes (ingest also its request subject, which no stream stores).
``consumer`` may not create, fetch from or ack on a service's durable
(:data:`DENIED_FOR_CONSUMER`): fetching from ``policy-events`` would take events away from policy.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from majorops.shared import subjects
from majorops.shared.events import EventType

ADMIN: Final = "admin"
INGEST: Final = "ingest"
POLICY: Final = "policy"
REMINDERS: Final = "reminders"
REPORTS: Final = "reports"
CONSUMER: Final = "consumer"

SERVICE_USERS: Final = (INGEST, POLICY, REMINDERS, REPORTS)
"""The user each service connects as (the user's name is the service's)."""

REMINDERS_NOTIFIER: Final = "reminders-notifier"
"""The name reminders' webhook notifier gives its durable (``subjects.durable_name``)."""

JS_API: Final = "$JS.API"
INBOX: Final = "_INBOX.>"
KV_STREAM_PREFIX: Final = "KV_"

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


@dataclass(frozen=True)
class Permissions:
    """One user's ``permissions`` map: deny wins over allow; nothing allowed is denied."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()
    allow_responses: bool = False
    """Publish to the reply subject of a request received (once), whatever ``publish`` says."""


@dataclass(frozen=True)
class NatsUser:
    name: str
    purpose: str
    permissions: Permissions | None = field(default=None)
    """None: no restriction (admin)."""


def stream_info(*streams: str) -> tuple[str, ...]:
    return tuple(f"{JS_API}.STREAM.INFO.{stream}" for stream in streams)


def durable_use(stream: str, durable: str) -> tuple[str, ...]:
    """Create or update one's durable (nats-py's ``add_consumer`` of a config with ``durable_name``),
    fetch from it, and settle (ack, nak, term, in progress) what it delivered."""
    return (
        f"{JS_API}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
        f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    )


def durables_of(user: str) -> tuple[str, ...]:
    return tuple(
        grant for stream, durable in DURABLES.get(user, ()) for grant in durable_use(stream, durable)
    )


def durable_denials(stream: str, durable: str) -> tuple[str, ...]:
    """Every JetStream API request and ack on one durable (any verb, with or without a filter)."""
    return (
        f"{JS_API}.CONSUMER.*.{stream}.{durable}",
        f"{JS_API}.CONSUMER.*.{stream}.{durable}.>",
        f"{JS_API}.CONSUMER.*.*.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    )


DENIED_FOR_CONSUMER: Final = tuple(
    denial
    for owned in DURABLES.values()
    for stream, durable in owned
    for denial in durable_denials(stream, durable)
)
"""What ``consumer`` may not do although its grants would allow it: create, read, fetch from, ack on
or delete a service's durable — fetching from ``policy-events`` would take events away from policy."""


def _consumer_grants(stream: str) -> tuple[str, ...]:
    """Durable pull consumers of one's own on a stream (any name but a service's, see above)."""
    return (
        f"{JS_API}.CONSUMER.DURABLE.CREATE.{stream}.*",
        f"{JS_API}.CONSUMER.CREATE.{stream}.*",
        f"{JS_API}.CONSUMER.CREATE.{stream}.*.>",
        f"{JS_API}.CONSUMER.INFO.{stream}.*",
        f"{JS_API}.CONSUMER.DELETE.{stream}.*",
        f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.*",
        f"$JS.ACK.{stream}.*.>",
    )


def reports_event_subjects() -> tuple[str, ...]:
    return tuple(subjects.event_subject("*", event_type.value) for event_type in REPORTS_EVENT_TYPES)


KV_STREAM: Final = f"{KV_STREAM_PREFIX}{subjects.INGEST_SEEN_BUCKET}"

USERS: Final[tuple[NatsUser, ...]] = (
    NatsUser(
        ADMIN,
        "Creates and updates the streams and the key-value bucket (majorops.shared.jetstream.provision) "
        "and runs operator commands (majorops deadletter list|replay, which republishes to any subject)",
    ),
    NatsUser(
        INGEST,
        "Publishes accepted events, records their ids in its key-value bucket, answers majorops.ingest",
        Permissions(
            publish=(
                subjects.ALL_EVENTS,
                f"$KV.{subjects.INGEST_SEEN_BUCKET}.>",
                *stream_info(*STREAMS, KV_STREAM),
                f"{JS_API}.STREAM.MSG.GET.{KV_STREAM}",
                # Is a claimed id in the stream already? (an ingest crashed between claim and record)
                f"{JS_API}.DIRECT.GET.{subjects.EVENTS_STREAM}",
            ),
            subscribe=(f"{subjects.INGEST_REQUEST} {subjects.INGEST_QUEUE_GROUP}", INBOX),
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
            subscribe=(INBOX,),
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
                *(
                    f"{JS_API}.CONSUMER.INFO.{stream}.{subjects.durable_name(REMINDERS, stream)}"
                    for stream in (subjects.EVENTS_STREAM, subjects.DECISIONS_STREAM)
                ),
                # Has policy decided on every event? (reads its ack floor; fetching stays policy's)
                f"{JS_API}.CONSUMER.INFO.{subjects.EVENTS_STREAM}.{subjects.durable_name(POLICY, subjects.EVENTS_STREAM)}",
                f"{JS_API}.STREAM.MSG.GET.{subjects.EVENTS_STREAM}",
                f"{JS_API}.STREAM.MSG.GET.{subjects.DECISIONS_STREAM}",
                f"{JS_API}.DIRECT.GET.{subjects.ESCALATIONS_STREAM}",
            ),
            subscribe=(INBOX,),
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
            subscribe=(INBOX,),
        ),
    ),
    NatsUser(
        CONSUMER,
        "Other systems: read the events, decisions, escalations and dead letters with durable pull "
        "consumers of their own, and send events as majorops.ingest requests",
        Permissions(
            publish=(
                subjects.INGEST_REQUEST,
                f"{JS_API}.STREAM.NAMES",
                *stream_info(*STREAMS),
                *(grant for stream in STREAMS for grant in _consumer_grants(stream)),
            ),
            publish_deny=DENIED_FOR_CONSUMER,
            # No core subscription of a stored subject: see "What nats-server does not check" above.
            subscribe=(INBOX,),
        ),
    ),
)

USER_NAMES: Final = tuple(user.name for user in USERS)


def user(name: str) -> NatsUser:
    for candidate in USERS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no NATS user {name!r}; the users are {', '.join(USER_NAMES)}")


# --- rendering -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvPassword:
    """A password nats-server reads from an environment variable when it loads its config
    (``password: $VARIABLE``), so the config file holds no secret."""

    variable: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.variable):
            raise ValueError(f"{self.variable!r} is not an environment variable name")


Password = str | EnvPassword

_PLAIN_PASSWORD = re.compile(r"[\x21-\x7e]+")


def _password_value(password: Password) -> str:
    if isinstance(password, EnvPassword):
        return f"${password.variable}"
    if not _PLAIN_PASSWORD.fullmatch(password) or '"' in password or "\\" in password:
        raise ValueError("a NATS password is printable ASCII without spaces, quotes or backslashes")
    if password.startswith("$2"):
        raise ValueError("a NATS password must not start with '$2' (nats-server takes it for a bcrypt hash)")
    return f'"{password}"'


def _list(items: Iterable[str], indent: str) -> str:
    return "[\n" + "".join(f'{indent}  "{item}",\n' for item in items) + f"{indent}]"


def render_user(nats_user: NatsUser, password: Password, indent: str = "    ") -> str:
    """One entry of ``users``, in nats-server config syntax."""
    lines = [
        *textwrap.wrap(
            f"{nats_user.name}: {nats_user.purpose}",
            100,
            initial_indent=f"{indent}# ",
            subsequent_indent=f"{indent}#   ",
            break_on_hyphens=False,
        ),
        f"{indent}{{",
        f'{indent}  user: "{nats_user.name}"',
        f"{indent}  password: {_password_value(password)}",
    ]
    perms = nats_user.permissions
    if perms is not None:
        lines.append(f"{indent}  permissions: {{")
        lines.append(f"{indent}    publish: {{")
        lines.append(f"{indent}      allow: {_list(perms.publish, indent + '      ')}")
        if perms.publish_deny:
            lines.append(f"{indent}      deny: {_list(perms.publish_deny, indent + '      ')}")
        lines.append(f"{indent}    }}")
        lines.append(f"{indent}    subscribe: {{")
        lines.append(f"{indent}      allow: {_list(perms.subscribe, indent + '      ')}")
        lines.append(f"{indent}    }}")
        if perms.allow_responses:
            lines.append(f"{indent}    allow_responses: true")
        lines.append(f"{indent}  }}")
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def authorization_block(passwords: Mapping[str, Password]) -> str:
    """nats-server's ``authorization { users = [...] }`` for the users given (user → password).

    Only the users given can connect; a connection without a user (or with a wrong password) is
    refused. Give every user of :data:`USERS` for the whole system.
    """
    unknown = sorted(set(passwords) - set(USER_NAMES))
    if unknown:
        raise ValueError(f"unknown NATS user(s) {unknown}; the users are {', '.join(USER_NAMES)}")
    if not passwords:
        raise ValueError("an authorization block needs at least one user")
    entries = [
        render_user(nats_user, passwords[nats_user.name])
        for nats_user in USERS
        if nats_user.name in passwords
    ]
    return "authorization {\n  users = [\n" + "\n".join(entries) + "\n  ]\n}\n"


def env_passwords(prefix: str = "MAJOROPS_NATS_PASSWORD_") -> dict[str, Password]:
    """Every user with its password read by nats-server from ``<prefix><USER>`` (the reference config)."""
    return {name: EnvPassword(f"{prefix}{name.upper()}") for name in USER_NAMES}


def service_env(user: str, password: str) -> dict[str, str]:
    """The environment a service (or a tool) is started with to connect as ``user``."""
    if user not in USER_NAMES:
        raise ValueError(f"no NATS user {user!r}; the users are {', '.join(USER_NAMES)}")
    return {"MAJOROPS_NATS_USER": user, "MAJOROPS_NATS_PASSWORD": password}


def generate_passwords() -> dict[str, str]:
    """A fresh random password per user (for ``majorops up``'s embedded server)."""
    import secrets

    return {name: secrets.token_urlsafe(24) for name in USER_NAMES}
