"""NATS users with subject permissions (issue 9), against a real nats-server started with users.

One server for the module; what is asserted is what a user of the system would notice: a client
without a user or with a wrong password is turned away, each service does its whole job as its own
user (and the server reports no permission it lacked), and a publish outside a user's own subjects
is refused and leaves the stream as it was, so a forged decision or escalation is never consumed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StreamConfig
from nats.js.errors import NotFoundError

from majorops.cli.natsserver import NatsServer, free_port, nats_server_binary
from majorops.shared import nats_access, nats_config, subjects, testing
from majorops.shared.jetstream import (
    NotProvisioned,
    ensure_key_value,
    ensure_mirrors,
    provision,
    require_streams,
)
from majorops.shared.nats_connection import connect_options, make_broker
from majorops.shared.settings import CommonSettings
from majorops.shared.settings_display import settings_summary
from majorops.shared.testing import REFUSED_WITHIN, UserConnection, connect_as

DEPLOY_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "nats-server.conf"
PASSWORDS = nats_access.generate_passwords()


@dataclass
class Server:
    nats: NatsServer
    log: Path

    @property
    def url(self) -> str:
        return self.nats.url

    def mark(self) -> int:
        return len(self.log.read_text())

    def violations(self, since: int = 0) -> list[str]:
        """The server's ``Publish Violation`` / ``Subscription Violation`` lines (with the user)."""
        return [line for line in self.log.read_text()[since:].splitlines() if "Violation" in line]


Connected = UserConnection


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("nats-users")
    log = data_dir / "nats-server.log"
    nats_server = NatsServer(data_dir=data_dir, port=free_port(), log_file=log, users=PASSWORDS)
    nats_server.start()
    try:
        yield Server(nats_server, log)
    finally:
        nats_server.stop()


async def connect(server: Server, user: str, password: str | None = None) -> Connected:
    return await connect_as(server.url, user, PASSWORDS[user] if password is None else password)


@pytest.fixture(scope="module")
async def admin(server: Server) -> AsyncIterator[JetStreamContext]:
    """``admin``'s JetStream, after it provisioned the streams and the key-value bucket."""
    connected = await connect(server, nats_access.ADMIN)
    js = connected.nc.jetstream()
    await provision(js)
    replicator = await connect(server, nats_access.REPLICATOR)
    await ensure_mirrors(replicator.nc.jetstream())
    await replicator.nc.close()
    yield js
    await connected.nc.close()


@pytest.fixture
async def as_user(server: Server) -> AsyncIterator[Any]:
    opened: list[Connected] = []

    async def open_as(user: str) -> Connected:
        connected = await connect(server, user)
        opened.append(connected)
        return connected

    yield open_as
    for connected in opened:
        await connected.nc.close()


def incident() -> str:
    return f"T-{uuid.uuid4().hex[:12]}"


# --- who may connect -----------------------------------------------------------------------------


async def test_a_client_without_a_user_is_refused(server: Server) -> None:
    with pytest.raises(Exception, match=r"(?i)authorization violation"):
        await nats.connect(server.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)


async def test_a_wrong_password_is_refused(server: Server) -> None:
    with pytest.raises(Exception, match=r"(?i)authorization violation"):
        await nats.connect(
            server.url,
            user=nats_access.INGEST,
            password=PASSWORDS[nats_access.INGEST] + "x",
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
        )


# --- each service does its job as its own user ---------------------------------------------------


async def test_each_service_does_its_whole_job_as_its_own_user(
    server: Server, admin: JetStreamContext, tmp_path: Path, as_user: Any
) -> None:
    """Ingest, policy, reminders (with a webhook) and reports started as their users on a server
    where admin provisioned the streams: an incident sent as ``consumer`` to ``majorops.ingest``
    becomes a decision, escalations, a dead-lettered webhook delivery and an action item event;
    a poison event is dead-lettered by each consumer; and the server reports no refused permission."""
    from majorops.ingest.bootstrap import IngestRuntime
    from majorops.ingest.config import IngestSettings
    from majorops.policy.bootstrap import PolicyRuntime
    from majorops.policy.config import PolicySettings
    from majorops.reminders.bootstrap import RemindersRuntime
    from majorops.reminders.config import RemindersSettings
    from majorops.reports.bootstrap import ReportsRuntime
    from majorops.reports.config import ReportsSettings
    from majorops.reports.handlers.materialise import read_review
    from majorops.shared.events import validate_event

    mark = server.mark()

    def settings(cls: type[testing.SettingsT], user: str, **changes: Any) -> testing.SettingsT:
        return testing.settings_for(
            cls, server.url, tmp_path / user, nats_user=user, nats_password=PASSWORDS[user], **changes
        )

    ingest = IngestRuntime(settings(IngestSettings, nats_access.INGEST))
    policy = PolicyRuntime(settings(PolicySettings, nats_access.POLICY))
    reminders = RemindersRuntime(
        settings(
            RemindersSettings,
            nats_access.REMINDERS,
            webhook_urls=f"http://127.0.0.1:{free_port()}/nobody-listens",
            webhook_attempts=1,
        )
    )
    reports = ReportsRuntime(settings(ReportsSettings, nats_access.REPORTS))
    runtimes: list[Any] = [ingest, policy, reminders, reports]
    for name, runtime in zip(nats_access.SERVICE_USERS, runtimes, strict=True):
        registered = {(c.stream, c.durable) for c in runtime.consumers}
        assert registered == set(nats_access.DURABLES.get(name, ())), name
    started: list[Any] = []
    try:
        loop = asyncio.get_running_loop()
        for runtime in runtimes:
            began = loop.time()
            await runtime.start()
            started.append(runtime)
            # A refused request would only time out (5 s): none is sent, so each starts at once.
            assert loop.time() - began < 3.0, f"{type(runtime).__name__} was slow to start"

        other = await as_user(nats_access.CONSUMER)
        inc = incident()
        reply = await other.nc.request(
            subjects.INGEST_REQUEST, json.dumps(testing.contract_example_events(inc)).encode(), timeout=5
        )
        assert json.loads(reply.data) == {"accepted": 4, "duplicates": 0}

        # Policy may decide on part of the batch first (a fetch can split it): its last revision counts.
        await testing.eventually(
            lambda: testing.stored_messages(admin, subjects.DECISIONS_STREAM, subjects.decision_subject(inc)),
            lambda decisions: (
                bool(decisions) and json.loads(decisions[-1].data or b"")["requirement"] == "mandatory"
            ),
            "policy's mandatory decision",
        )
        escalations = await testing.eventually(
            lambda: testing.stored_messages(
                admin, subjects.ESCALATIONS_STREAM, f"{subjects.ESCALATIONS_ROOT}.{inc}.>"
            ),
            bool,
            "reminders' escalations",
        )
        assert all(json.loads(m.data or b"")["incident_id"] == inc for m in escalations)

        async def webhook_letters() -> list[dict[str, Any]]:
            letters = await testing.dead_letters(admin, nats_access.REMINDERS)
            return [
                letter
                for letter in letters
                if letter["subject"].startswith(f"{subjects.ESCALATIONS_ROOT}.{inc}.")
            ]

        await testing.eventually(webhook_letters, bool, "the notifier's dead letter of its refused webhook")

        ports = reports.open_ports()
        await testing.eventually(lambda: read_review(inc, ports), lambda r: r is not None, "reports' review")
        item = testing.event_envelope(
            inc,
            f"{inc}-ai",
            "majorops.actionitem.created",
            testing.iso(datetime.now(UTC)),
            {"item_id": "AI-1", "title": "Add a saturation alert"},
        )
        await ports.publisher.publish(validate_event(item))  # what POST …/action-items does
        assert await testing.stored_messages(
            admin, subjects.EVENTS_STREAM, subjects.event_subject(inc, "majorops.actionitem.created")
        )

        poison = subjects.event_subject(inc, "majorops.incident.updated")
        await admin.publish(poison, b"not json", headers={"Nats-Msg-Id": f"{inc}-poison"})
        for service in (nats_access.POLICY, nats_access.REMINDERS, nats_access.REPORTS):

            async def letters_of(service: str = service) -> list[dict[str, Any]]:
                return [
                    letter
                    for letter in await testing.dead_letters(admin, service)
                    if letter["subject"] == poison
                ]

            await testing.eventually(letters_of, bool, f"{service}'s dead letter of the poison event")
    finally:
        for runtime in reversed(started):
            await runtime.stop()
        await testing.purge_incidents(admin, "T-")
    assert server.violations(mark) == []


async def test_a_service_finds_the_provisioned_streams_without_asking_to_create_them(
    server: Server, admin: JetStreamContext, as_user: Any
) -> None:
    mark = server.mark()
    policy = await as_user(nats_access.POLICY)
    await require_streams(policy.nc.jetstream())
    assert policy.errors == []
    assert server.violations(mark) == []


async def test_reminders_reads_back_what_it_needs_for_exactly_once_as_its_user(
    server: Server, admin: JetStreamContext, as_user: Any
) -> None:
    """The paths the whole-job test may not take: whether an escalation is already in the stream
    (direct gets on the escalations stream) and whether an incident's record is complete (its
    durables' ack floors, the last message of the incident on the events and decisions streams)."""
    from majorops.reminders.adapters.jetstream import JetStreamNoticePublisher, JetStreamRecordFreshness
    from majorops.reminders.plan import Notice, NoticeCategory

    mark = server.mark()
    inc = incident()
    for stream, durable in nats_access.DURABLES[nats_access.REMINDERS]:
        try:
            await admin.consumer_info(stream, durable)
        except NotFoundError:  # the whole-job test did not run before this one
            await admin.add_consumer(stream, ConsumerConfig(durable_name=durable))
    await admin.publish(subjects.event_subject(inc, "majorops.incident.declared"), b"{}")
    await admin.publish(subjects.decision_subject(inc), b"{}")
    reminders = await as_user(nats_access.REMINDERS)
    js = reminders.nc.jetstream()
    notice = Notice(
        f"{inc}:mtm_recommended:1",
        inc,
        NoticeCategory.ESCALATION,
        subjects.escalation_subject(inc, "mtm_recommended"),
        b"{}",
        datetime.now(UTC),
    )
    publisher = JetStreamNoticePublisher(js)
    assert not await publisher.in_stream(notice)
    await publisher.publish([notice])
    assert await publisher.in_stream(notice)
    assert await JetStreamRecordFreshness(js, nats_access.REMINDERS).complete([inc]) == set()
    assert reminders.errors == []
    assert server.violations(mark) == []
    await testing.purge_incidents(admin, inc)


async def test_a_service_on_a_server_nobody_provisioned_says_what_to_do(tmp_path: Path) -> None:
    fresh = NatsServer(data_dir=tmp_path, port=free_port(), users=PASSWORDS)
    fresh.start()
    try:
        for user, needs in ((nats_access.POLICY, "stream"), (nats_access.INGEST, "key-value bucket")):
            nc = await nats.connect(
                fresh.url,
                user=user,
                password=PASSWORDS[user],
                inbox_prefix=nats_access.inbox_prefix(user),
                allow_reconnect=False,
            )
            js = nc.jetstream(timeout=REFUSED_WITHIN)
            with pytest.raises(NotProvisioned, match=f"{needs} .* provision first, as admin"):
                if needs == "stream":
                    await require_streams(js)
                else:
                    await ensure_key_value(js, subjects.INGEST_SEEN_BUCKET, "seen")
            await nc.close()
    finally:
        fresh.stop()


async def test_on_a_server_without_users_a_service_still_brings_the_streams_up_to_date(nats_url: str) -> None:
    """As before users existed: a stream that is missing is created, one out of date is updated."""
    from majorops.shared.jetstream import STREAMS, stream_config

    [spec] = [spec for spec in STREAMS if spec.name == subjects.DEADLETTER_STREAM]
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await require_streams(js)
        stale = stream_config(spec)
        stale.description = "an older description"
        await js.update_stream(config=stale)
        await require_streams(js)
        assert (await js.stream_info(spec.name)).config.description == spec.description
    finally:
        await nc.close()


# --- what each user may not do --------------------------------------------------------------------

FORBIDDEN: list[tuple[str, str, str]] = [
    (nats_access.INGEST, subjects.DECISIONS_STREAM, subjects.decision_subject("{inc}")),
    (
        nats_access.INGEST,
        subjects.ESCALATIONS_STREAM,
        subjects.escalation_subject("{inc}", "mtm_recommended"),
    ),
    (
        nats_access.POLICY,
        subjects.EVENTS_STREAM,
        subjects.event_subject("{inc}", "majorops.incident.declared"),
    ),
    (
        nats_access.POLICY,
        subjects.ESCALATIONS_STREAM,
        subjects.escalation_subject("{inc}", "mtm_recommended"),
    ),
    (nats_access.REMINDERS, subjects.DECISIONS_STREAM, subjects.decision_subject("{inc}")),
    (
        nats_access.REMINDERS,
        subjects.EVENTS_STREAM,
        subjects.event_subject("{inc}", "majorops.incident.declared"),
    ),
    (
        nats_access.REPORTS,
        subjects.EVENTS_STREAM,
        subjects.event_subject("{inc}", "majorops.incident.declared"),
    ),
    (nats_access.REPORTS, subjects.DECISIONS_STREAM, subjects.decision_subject("{inc}")),
    (
        nats_access.CONSUMER,
        subjects.EVENTS_STREAM,
        subjects.event_subject("{inc}", "majorops.incident.declared"),
    ),
    (nats_access.CONSUMER, subjects.DECISIONS_STREAM, subjects.decision_subject("{inc}")),
    (
        nats_access.CONSUMER,
        subjects.ESCALATIONS_STREAM,
        subjects.escalation_subject("{inc}", "mtm_recommended"),
    ),
    (nats_access.CONSUMER, subjects.ESCALATIONS_STREAM, subjects.reminder_subject("{inc}", "schedule_by")),
    (nats_access.CONSUMER, subjects.DEADLETTER_STREAM, subjects.deadletter_subject(nats_access.POLICY)),
    (nats_access.POLICY, subjects.DEADLETTER_STREAM, subjects.deadletter_subject(nats_access.REPORTS)),
]


@pytest.mark.parametrize(
    ("user", "stream", "subject"),
    FORBIDDEN,
    ids=[f"{u}->{s.replace('{inc}', 'INC')}" for u, _, s in FORBIDDEN],
)
async def test_a_publish_outside_the_users_subjects_is_refused_and_stored_nowhere(
    server: Server, admin: JetStreamContext, as_user: Any, user: str, stream: str, subject: str
) -> None:
    """The forged message gets no PubAck, the server says why, and the stream is as it was, so no
    consumer (reports, reminders, another system) ever sees it."""
    subject = subject.format(inc=incident())
    before = (await admin.stream_info(stream)).state
    client = await as_user(user)
    forged = json.dumps({"incident_id": subject.split(".")[2], "forged": True}).encode()
    with pytest.raises((TimeoutError, nats.errors.TimeoutError)):
        await client.js.publish(subject, forged, timeout=REFUSED_WITHIN)
    assert await client.refused(f'publish to "{subject}"')
    after = (await admin.stream_info(stream)).state
    assert (after.messages, after.last_seq) == (before.messages, before.last_seq)
    assert await testing.stored_messages(admin, stream, subject, from_seq=before.last_seq + 1) == []


async def test_reports_may_publish_only_the_event_types_it_emits(
    admin: JetStreamContext, as_user: Any
) -> None:
    reports = await as_user(nats_access.REPORTS)
    inc = incident()
    for event_type in nats_access.REPORTS_EVENT_TYPES:
        subject = subjects.event_subject(inc, event_type.value)
        ack = await reports.js.publish(
            subject, b"{}", timeout=2, headers={"Nats-Msg-Id": f"{inc}-{event_type}"}
        )
        assert ack.stream == subjects.EVENTS_STREAM
    assert reports.errors == []
    await testing.purge_incidents(admin, inc)


async def test_no_service_may_create_or_delete_a_stream(admin: JetStreamContext, as_user: Any) -> None:
    async def attempt(user: str) -> None:
        client = await as_user(user)
        with pytest.raises((TimeoutError, nats.errors.TimeoutError)):
            await client.js.delete_stream(subjects.EVENTS_STREAM)
        assert await client.refused(f"$JS.API.STREAM.DELETE.{subjects.EVENTS_STREAM}")
        with pytest.raises((TimeoutError, nats.errors.TimeoutError)):
            await client.js.add_stream(
                StreamConfig(name=f"SNEAKY_{user.upper()}", subjects=[f"sneaky.{user}"])
            )
        assert await client.refused(f"$JS.API.STREAM.CREATE.SNEAKY_{user}")

    await asyncio.gather(*(attempt(user) for user in (*nats_access.SERVICE_USERS, nats_access.CONSUMER)))
    assert await admin.stream_info(subjects.EVENTS_STREAM)
    names = {info.config.name for info in await admin.streams_info()}
    assert set(nats_access.STREAMS) <= names
    assert not any(str(name).startswith("SNEAKY") for name in names)


# --- the consumer user ----------------------------------------------------------------------------


async def test_another_system_reads_escalations_from_its_mirror_with_a_durable_of_its_own(
    admin: JetStreamContext, as_user: Any
) -> None:
    """In its own account, through the mirror of the escalations stream (same name, kept by the
    server): the durable is the other system's, on its account's stream, and nothing of it exists on
    the services' stream."""
    inc = incident()
    other = await as_user(nats_access.CONSUMER)
    durable = f"dashboard-{uuid.uuid4().hex[:8]}"
    sub = await other.nc.jetstream().pull_subscribe(
        f"{subjects.ESCALATIONS_ROOT}.{inc}.>", durable=durable, stream=subjects.ESCALATIONS_STREAM
    )
    await admin.publish(subjects.escalation_subject(inc, "mtm_recommended"), b'{"level": 1}')
    [msg] = await sub.fetch(1, timeout=5)
    assert json.loads(msg.data) == {"level": 1}
    assert msg.subject == subjects.escalation_subject(inc, "mtm_recommended")
    await msg.ack_sync(timeout=2)
    info = await other.nc.jetstream().consumer_info(subjects.ESCALATIONS_STREAM, durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    with pytest.raises(NotFoundError):
        await admin.consumer_info(subjects.ESCALATIONS_STREAM, durable)
    assert other.errors == []
    await other.nc.jetstream().delete_consumer(subjects.ESCALATIONS_STREAM, durable)
    await testing.purge_incidents(admin, inc, [(subjects.ESCALATIONS_STREAM, subjects.ESCALATIONS_ROOT)])


async def test_another_system_sends_events_as_ingest_requests_but_cannot_publish_them(
    as_user: Any,
) -> None:
    ingest = await as_user(nats_access.INGEST)

    async def answer(msg: Any) -> None:
        await msg.respond(b'{"accepted": 1, "duplicates": 0}')

    await ingest.nc.subscribe(subjects.INGEST_REQUEST, queue=subjects.INGEST_QUEUE_GROUP, cb=answer)
    await ingest.nc.flush()
    other = await as_user(nats_access.CONSUMER)
    reply = await other.nc.request(subjects.INGEST_REQUEST, b"{}", timeout=2)
    assert json.loads(reply.data) == {"accepted": 1, "duplicates": 0}
    assert ingest.errors == [] and other.errors == []
    # Taking ingest's requests away (a subscription of its own) is refused.
    await other.nc.subscribe(subjects.INGEST_REQUEST, queue=subjects.INGEST_QUEUE_GROUP)
    assert await other.refused(f'subscription to "{subjects.INGEST_REQUEST}"')


async def test_another_system_cannot_reach_a_services_durable(
    server: Server, admin: JetStreamContext, as_user: Any
) -> None:
    """Fetching or acking on ``policy-events`` would take events away from policy. In its account a
    ``policy-events`` is a consumer of its own mirror: making one, fetching from it and acking leave
    policy's as they were."""
    durable = subjects.durable_name(nats_access.POLICY, subjects.EVENTS_STREAM)
    await admin.add_consumer(subjects.EVENTS_STREAM, ConsumerConfig(durable_name=durable))
    before = await admin.consumer_info(subjects.EVENTS_STREAM, durable)
    inc = incident()
    await admin.publish(subjects.event_subject(inc, "majorops.incident.declared"), b"{}")
    other = await as_user(nats_access.CONSUMER)
    js = other.nc.jetstream()
    await js.add_consumer(subjects.EVENTS_STREAM, ConsumerConfig(durable_name=durable, max_deliver=1))
    sub = await js.pull_subscribe_bind(durable=durable, stream=subjects.EVENTS_STREAM)
    fetched = await sub.fetch(1000, timeout=5)
    for msg in fetched:
        await msg.ack()
    assert any(msg.subject == subjects.event_subject(inc, "majorops.incident.declared") for msg in fetched)
    after = await admin.consumer_info(subjects.EVENTS_STREAM, durable)
    assert after.config.max_deliver == before.config.max_deliver != 1
    assert (after.delivered.stream_seq, after.ack_floor.stream_seq) == (
        before.delivered.stream_seq,
        before.ack_floor.stream_seq,
    )
    # The services' API is out of its reach, even where the mirrors reach it.
    with pytest.raises((TimeoutError, nats.errors.TimeoutError)):
        await other.nc.request(
            f"{nats_access.COPY_API}.CONSUMER.CREATE.{subjects.EVENTS_STREAM}.{durable}", b"{}", timeout=0.5
        )
    assert await other.refused(f"{nats_access.COPY_API}.CONSUMER.CREATE")
    await js.delete_consumer(subjects.EVENTS_STREAM, durable)
    await testing.purge_incidents(admin, inc)


# --- the table, the reference config, the settings ------------------------------------------------


def test_the_reference_config_has_the_tables_users_with_passwords_from_the_environment() -> None:
    block = nats_config.accounts_block(nats_config.env_passwords())
    assert block in DEPLOY_CONFIG.read_text()
    passwords = {f"MAJOROPS_NATS_PASSWORD_{user.upper()}": "pw" for user in nats_access.USER_NAMES}
    checked = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(DEPLOY_CONFIG)], env=passwords, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for user in nats_access.USER_NAMES:
        assert f'user: "{user}"\n' in block
        assert f"password: $MAJOROPS_NATS_PASSWORD_{user.upper()}\n" in block
    assert "PASSWORD_" not in nats_config.accounts_block({"policy": "p4ss"})


def test_a_password_the_config_could_misread_is_refused() -> None:
    for bad in ('with"quote', "with space", "back\\slash", "$2a$10$looks-like-bcrypt", ""):
        with pytest.raises(ValueError):
            nats_config.accounts_block({"policy": bad})
    with pytest.raises(ValueError, match="unknown NATS user"):
        nats_config.accounts_block({"root": "pw"})


def test_a_service_user_needs_its_password_and_the_password_is_never_shown(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs its password"):
        CommonSettings(nats_user="policy")
    with pytest.raises(ValueError, match="MAJOROPS_NATS_USER"):
        CommonSettings(nats_password="s3cr3t-pw")
    with pytest.raises(ValueError, match="give the user one way"):
        CommonSettings(nats_url="nats://policy:pw@nats:4222", nats_user="policy", nats_password="pw")
    with pytest.raises(ValueError, match="no such file"):
        CommonSettings(nats_tls_ca=tmp_path / "missing.pem")
    (tmp_path / "client.pem").write_text("x")
    with pytest.raises(ValueError, match="go together"):
        CommonSettings(nats_tls_cert=tmp_path / "client.pem")
    settings = CommonSettings(nats_user="policy", nats_password="s3cr3t-pw")
    summary = settings_summary(settings)
    assert summary["nats_user"] == "policy"
    assert summary["nats_password"] == "(secret)"
    assert "s3cr3t-pw" not in json.dumps(summary)
    assert connect_options(settings) == {
        "user": "policy",
        "password": "s3cr3t-pw",
        "inbox_prefix": "_INBOX_policy",
    }
    assert connect_options(CommonSettings()) == {"inbox_prefix": "_INBOX"}


# --- TLS ------------------------------------------------------------------------------------------


def make_certificates(where: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=where)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca")
    (where / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, extra in (("server", ("-extfile", "san.ext")), ("client", ())):
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "1",
            *extra,
        )
    return {name: where / name for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


@dataclass
class TlsNatsServer(NatsServer):
    """The embedded server with mutual TLS (only for this test: ``majorops up`` stays on localhost)."""

    certificates: dict[str, Path] = field(default_factory=dict)

    def write_config(self) -> Path:
        config = super().write_config()
        c = self.certificates
        config.write_text(
            config.read_text()
            + f'tls {{\n  cert_file: "{c["server.pem"]}"\n  key_file: "{c["server.key"]}"\n'
            f'  ca_file: "{c["ca.pem"]}"\n  verify: true\n}}\n'
        )
        return config


async def test_a_service_connects_over_mutual_tls_with_its_user(tmp_path: Path) -> None:
    assert shutil.which("openssl"), (
        "openssl (Debian's openssl package) makes the test certificates: install it"
    )
    certificates = make_certificates(tmp_path)
    tls_server = TlsNatsServer(
        data_dir=tmp_path / "nats", port=free_port(), users=PASSWORDS, certificates=certificates
    )
    tls_server.start()
    try:
        settings = CommonSettings(
            nats_url=tls_server.url,
            nats_user=nats_access.POLICY,
            nats_password=PASSWORDS[nats_access.POLICY],
            nats_tls_ca=certificates["ca.pem"],
            nats_tls_cert=certificates["client.pem"],
            nats_tls_key=certificates["client.key"],
        )
        broker = make_broker(settings, "policy")
        connection = await broker.connect()
        assert connection.is_connected
        await broker.stop()
        without_client_certificate = CommonSettings(
            nats_url=tls_server.url,
            nats_user=nats_access.POLICY,
            nats_password=PASSWORDS[nats_access.POLICY],
            nats_tls_ca=certificates["ca.pem"],
        )
        with pytest.raises(Exception):  # noqa: B017 - the TLS handshake's own error
            await nats.connect(
                tls_server.url,
                allow_reconnect=False,
                max_reconnect_attempts=0,
                connect_timeout=2,
                **connect_options(without_client_certificate),
            )
    finally:
        tls_server.stop()
