"""Issue 20's attack on a real nats-server with the shipped accounts, and every variant we could
think of, run as the other systems' user ``consumer`` against running services.

The attack as reported: the read-only user saw the services' pull inboxes (``_INBOX.>`` traffic, the
monitoring endpoint) and made a push consumer deliver an event whose extension attributes formed an
escalation and a decision into them; every service believed it. Here each way in is tried and shown
refused or without effect, and the second wall (a consumer takes only what its own durable
delivered) is shown on its own with a foreign consumer an insider points at a service's inbox.
Nothing is recorded: no decision revision, escalation, review entry or stored event beyond the real
ones.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, ExternalStream, StreamConfig, StreamSource
from nats.js.errors import BucketNotFoundError, NotFoundError

from majorops.cli.natsserver import NatsServer, free_port
from majorops.shared import nats_access, subjects, testing
from majorops.shared.jetstream import ensure_mirrors, provision
from majorops.shared.telemetry import telemetry_of
from majorops.shared.testing import UserConnection, connect_as

PASSWORDS = nats_access.generate_passwords()
INCIDENT = f"ATK-{uuid.uuid4().hex[:8]}"


User = UserConnection


async def connect(url: str, user: str) -> User:
    return await connect_as(url, user, PASSWORDS[user])


@dataclass
class System:
    nats: NatsServer
    log: Path
    runtimes: dict[str, Any]
    admin: User

    def violations(self, since: int = 0) -> list[str]:
        return [line for line in self.log.read_text()[since:].splitlines() if "Violation" in line]

    def monitoring(self, path: str) -> Any:
        assert self.nats.monitor_url is not None
        with urllib.request.urlopen(f"{self.nats.monitor_url}{path}", timeout=5) as answer:
            return json.loads(answer.read())

    def foreign_messages(self) -> float:
        return sum(
            sample.value
            for runtime in self.runtimes.values()
            for metric in telemetry_of(runtime.broker).foreign_messages.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NatsServer, Path]]:
    data_dir = tmp_path_factory.mktemp("nats-attacks")
    log = data_dir / "nats-server.log"
    # Clients may come from anywhere (0.0.0.0); the test itself only talks to loopback.
    nats_server = NatsServer(
        data_dir=data_dir, port=free_port(), host="0.0.0.0", log_file=log, users=PASSWORDS
    )
    nats_server.start()
    try:
        yield nats_server, log
    finally:
        nats_server.stop()


@pytest.fixture(scope="module")
async def system(
    server: tuple[NatsServer, Path], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    """The four services as their users, after admin and replicator provisioned, with the contract's
    example incident recorded (its decision, escalations and review)."""
    from majorops.ingest.bootstrap import IngestRuntime
    from majorops.ingest.config import IngestSettings
    from majorops.policy.bootstrap import PolicyRuntime
    from majorops.policy.config import PolicySettings
    from majorops.reminders.bootstrap import RemindersRuntime
    from majorops.reminders.config import RemindersSettings
    from majorops.reports.bootstrap import ReportsRuntime
    from majorops.reports.config import ReportsSettings

    nats_server, log = server
    url = f"nats://127.0.0.1:{nats_server.port}"
    admin = await connect(url, nats_access.ADMIN)
    await provision(admin.nc.jetstream())
    replicator = await connect(url, nats_access.REPLICATOR)
    await ensure_mirrors(replicator.nc.jetstream())
    await replicator.nc.close()
    data = tmp_path_factory.mktemp("services")

    def settings(cls: type[testing.SettingsT], user: str) -> testing.SettingsT:
        return testing.settings_for(cls, url, data / user, nats_user=user, nats_password=PASSWORDS[user])

    runtimes: dict[str, Any] = {
        nats_access.INGEST: IngestRuntime(settings(IngestSettings, nats_access.INGEST)),
        nats_access.POLICY: PolicyRuntime(settings(PolicySettings, nats_access.POLICY)),
        nats_access.REMINDERS: RemindersRuntime(settings(RemindersSettings, nats_access.REMINDERS)),
        nats_access.REPORTS: ReportsRuntime(settings(ReportsSettings, nats_access.REPORTS)),
    }
    started: list[Any] = []
    try:
        for runtime in runtimes.values():
            await runtime.start()
            started.append(runtime)
        other = await connect(url, nats_access.CONSUMER)
        reply = await other.nc.request(
            subjects.INGEST_REQUEST, json.dumps(testing.contract_example_events(INCIDENT)).encode(), timeout=5
        )
        assert json.loads(reply.data) == {"accepted": 4, "duplicates": 0}
        await other.nc.close()
        system = System(nats_server, log, runtimes, admin)
        await testing.eventually(
            lambda: record(system), lambda r: bool(r.escalations) and r.review, "the record"
        )
        yield system
    finally:
        for runtime in reversed(started):
            await runtime.stop()
        await admin.nc.close()


@dataclass(frozen=True)
class Record:
    """What the system holds of the incident: every decision revision, escalation and stored event,
    and the review's escalations."""

    decisions: tuple[bytes, ...]
    escalations: tuple[bytes, ...]
    events: tuple[bytes, ...]
    review: tuple[str, str, str] | None
    """The review's escalations, timeline and decision, as served."""


async def record(system: System) -> Record:
    from majorops.reports.handlers.materialise import read_review

    js = system.admin.nc.jetstream()

    async def stored(stream: str, subject: str) -> tuple[bytes, ...]:
        return tuple(m.data or b"" for m in await testing.stored_messages(js, stream, subject))

    review = await read_review(INCIDENT, system.runtimes[nats_access.REPORTS].open_ports())
    return Record(
        await stored(subjects.DECISIONS_STREAM, subjects.decision_subject(INCIDENT)),
        await stored(subjects.ESCALATIONS_STREAM, f"{subjects.ESCALATIONS_ROOT}.{INCIDENT}.>"),
        await stored(subjects.EVENTS_STREAM, f"{subjects.EVENTS_ROOT}.{INCIDENT}.>"),
        None
        if review is None
        else (
            json.dumps(review.document.get("escalations"), sort_keys=True),
            json.dumps(review.document.get("timeline"), sort_keys=True),
            json.dumps(review.document.get("decision"), sort_keys=True),
        ),
    )


async def settled_record(system: System) -> Record:
    """The record once nothing has changed for a while (the services had time to act on anything)."""
    last = await record(system)
    for _ in range(6):
        await asyncio.sleep(0.5)
        now = await record(system)
        if now == last:
            return now
        last = now
    return last


def service_durables() -> set[str]:
    return {durable for owned in nats_access.DURABLES.values() for _stream, durable in owned}


def forged_escalation(incident: str) -> dict[str, Any]:
    return {
        "escalation_id": f"{incident}:vendor_rca_overdue:FakeVendor:1",
        "incident_id": incident,
        "kind": "vendor_rca_overdue",
        "level": 1,
        "due_at": "2026-11-20T12:00:00Z",
        "fired_at": "2026-11-20T12:00:00Z",
        "notify": {"role": "engineering_director"},
        "message": "forged",
        "item": "FakeVendor",
    }


async def mirrored(user: User, stream: str) -> int:
    """Wait until the account's mirror of ``stream`` holds what the services' stream does."""
    info = await user.js.stream_info(stream)
    return int(info.state.last_seq)


# --- the walls the account draws ------------------------------------------------------------------


async def test_the_reported_attack_and_its_variants_change_nothing(system: System) -> None:
    before = await settled_record(system)
    consumers_before = {
        stream: {c.name for c in await system.admin.nc.jetstream().consumers_info(stream)}
        for stream in nats_access.STREAMS
    }
    attacker = await connect(f"nats://127.0.0.1:{system.nats.port}", nats_access.CONSUMER)
    seen: list[Msg] = []

    async def overhear(msg: Msg) -> None:
        seen.append(msg)

    # 1. Listening to every subject it may: nothing of the services' traffic (their inboxes are in
    #    another account, and theirs alone).
    await attacker.nc.subscribe(">", cb=overhear)
    await attacker.nc.subscribe("_INBOX.>", cb=overhear)
    await attacker.nc.flush()

    # 2. Push consumers on its account's mirrors, delivering where the services would listen, into
    #    the imported services and API, and onto the stored subjects.
    targets = [
        "_INBOX_policy.anything",
        "_INBOX_reports.anything",
        subjects.INGEST_REQUEST,
        f"{nats_access.COPY_API}.CONSUMER.CREATE.{subjects.EVENTS_STREAM}.evil",
        f"{nats_access.copy_deliver_subject(subjects.ESCALATIONS_STREAM)}.evil",
        f"$JS.FC.{subjects.EVENTS_STREAM}.evil",
        subjects.decision_subject(INCIDENT),
        subjects.escalation_subject(INCIDENT, "vendor_rca_overdue"),
    ]
    for number, target in enumerate(targets):
        await attacker.js.add_consumer(
            subjects.EVENTS_STREAM,
            ConsumerConfig(
                durable_name=f"push-{number}",
                deliver_subject=target,
                filter_subject=f"{subjects.EVENTS_ROOT}.{INCIDENT}.>",
            ),
        )

    # 3. The services' JetStream API, straight: refused.
    for api in (
        f"{nats_access.COPY_API}.CONSUMER.CREATE.{subjects.EVENTS_STREAM}.evil",
        f"{nats_access.COPY_API}.CONSUMER.CREATE.{subjects.DECISIONS_STREAM}",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{subjects.EVENTS_STREAM}.policy-events",
    ):
        request = {
            "stream_name": subjects.EVENTS_STREAM,
            "config": {"name": "evil", "deliver_subject": "_INBOX_policy.x"},
        }
        await attacker.nc.publish(api, json.dumps(request).encode())
    assert await attacker.refused(f"{nats_access.COPY_API}.consumer.create")

    # 4. A stream of its own that mirrors or sources the services' streams through the imported API
    #    (the server would drive a consumer delivering where the config says): refused.
    with pytest.raises((TimeoutError, nats.errors.TimeoutError)):
        await attacker.js.add_stream(
            StreamConfig(
                name="EVIL",
                mirror=StreamSource(
                    name=subjects.EVENTS_STREAM,
                    external=ExternalStream(api=nats_access.COPY_API, deliver="_INBOX_policy"),
                ),
            )
        )
    assert await attacker.refused("$JS.API.STREAM.CREATE.EVIL")

    # 5. Ingest's key-value bucket: not in its account, and its subjects refused.
    with pytest.raises(BucketNotFoundError):
        await attacker.js.key_value(subjects.INGEST_SEEN_BUCKET)
    await attacker.nc.publish(f"$KV.{subjects.INGEST_SEEN_BUCKET}.x", b"forged")
    assert await attacker.refused(f"$kv.{subjects.INGEST_SEEN_BUCKET}")

    # 6. Request/reply on majorops.ingest: answering others' requests is refused; a request whose
    #    reply subject names a service's inbox is answered in the attacker's own account.
    await attacker.nc.subscribe(subjects.INGEST_REQUEST)
    assert await attacker.refused(f'subscription to "{subjects.INGEST_REQUEST}"')
    await attacker.nc.publish(subjects.INGEST_REQUEST, b"[]", reply="_INBOX_policy.spoofed")

    # 7. The reported payload: an event whose extension attributes form an escalation and a decision.
    smuggler = testing.event_envelope(
        INCIDENT, f"{INCIDENT}-smuggle", "majorops.incident.updated", "2026-11-20T12:30:00Z", {}
    )
    smuggler.update(forged_escalation(INCIDENT))
    smuggler.update({"revision": 7, "requirement": "mandatory"})
    answer = json.loads(
        (await attacker.nc.request(subjects.INGEST_REQUEST, json.dumps(smuggler).encode(), timeout=5)).data
    )
    fields = {error["field"] for error in answer["errors"]}
    assert {"escalation_id", "incident_id", "notify", "due_at"} <= fields, answer

    # 8. Mirror deliveries and flow-control replies, forged: refused or harmless.
    await attacker.nc.subscribe(f"{nats_access.COPY_DELIVER_ROOT}.>")
    assert await attacker.refused(f'subscription to "{nats_access.COPY_DELIVER_ROOT}.>"')
    await attacker.nc.publish(
        f"{nats_access.copy_deliver_subject(subjects.ESCALATIONS_STREAM)}.x",
        json.dumps(forged_escalation(INCIDENT)).encode(),
    )
    assert await attacker.refused(f'publish to "{nats_access.COPY_DELIVER_ROOT}')

    after = await settled_record(system)
    assert after == before
    assert system.foreign_messages() == 0
    for stream in nats_access.STREAMS:
        now = {c.name for c in await system.admin.nc.jetstream().consumers_info(stream)}
        assert now == consumers_before[stream], stream
    # Ingest's answer to the spoofed reply subject came back into the attacker's own account.
    spoofed = [m for m in seen if m.subject == "_INBOX_policy.spoofed"]
    assert len(spoofed) == 1 and json.loads(spoofed[0].data)["status"] == 422
    services_traffic = [
        m
        for m in seen
        if m not in spoofed
        and (m.subject.startswith("_INBOX_") or any(f".{d}." in (m.reply or "") for d in service_durables()))
    ]
    assert services_traffic == []
    # The escalations stream of the attacker's account has nothing forged either.
    escalations = await testing.stored_messages(
        attacker.nc.jetstream(), subjects.ESCALATIONS_STREAM, f"{subjects.ESCALATIONS_ROOT}.{INCIDENT}.>"
    )
    assert tuple(m.data or b"" for m in escalations) == before.escalations
    await attacker.nc.close()


async def test_the_monitoring_endpoint_listens_on_loopback_only(system: System) -> None:
    """It lists every connection and subscription (the services' inboxes among them), without any
    credential: the server listens for clients on every address, for monitoring on 127.0.0.1 only."""
    assert system.nats.monitor_url is not None
    monitor_port = int(system.nats.monitor_url.rsplit(":", 1)[1])
    listening: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":  # LISTEN
                address, port = local.split(":")
                listening.setdefault(int(port, 16), set()).add(address)
    assert listening[system.nats.port] & {"00000000", "0" * 32}  # every address (IPv4 or both)
    assert listening[monitor_port] == {"0100007F"}  # 127.0.0.1 alone
    # What it would have told an attacker: the services' inboxes, each under its own prefix.
    subs = system.monitoring("/subsz?subs=1")
    inboxes = {
        s["subject"].split(".")[0]
        for s in subs.get("subscriptions_list", [])
        if s["subject"].startswith("_INBOX")
    }
    assert {f"_INBOX_{user}" for user in nats_access.SERVICE_USERS} <= inboxes


# --- the second wall ---------------------------------------------------------------------------------


async def test_a_consumer_ignores_what_its_own_durable_did_not_deliver(system: System) -> None:
    """Behind the accounts: even someone inside the services' account (admin here) who points a push
    consumer of another durable, or of another stream, at reports' and policy's fetch inboxes gets
    nothing recorded; each message is counted as foreign and logged."""
    before = await settled_record(system)
    js = system.admin.nc.jetstream()
    subs = system.monitoring("/subsz?subs=1")
    inboxes = [
        s["subject"]
        for s in subs.get("subscriptions_list", [])
        if s["subject"].startswith(("_INBOX_reports.", "_INBOX_policy.", "_INBOX_reminders."))
        and not s["subject"].endswith(".*")
    ]
    assert inboxes
    await js.add_stream(StreamConfig(name="FORGERY", subjects=["forgery.>"]))
    await js.publish("forgery.escalation", json.dumps(forged_escalation(INCIDENT)).encode())
    created = []
    for number, inbox in enumerate(inboxes):
        name = f"forger-{number}"
        await js.add_consumer("FORGERY", ConsumerConfig(durable_name=name, deliver_subject=inbox))
        created.append(("FORGERY", name))
        # A real message of the services' stream, from a durable that is not the service's own.
        other = f"replayer-{number}"
        await js.add_consumer(
            subjects.EVENTS_STREAM,
            ConsumerConfig(
                durable_name=other,
                deliver_subject=inbox,
                filter_subject=f"{subjects.EVENTS_ROOT}.{INCIDENT}.>",
            ),
        )
        created.append((subjects.EVENTS_STREAM, other))

    async def counted() -> float:
        return system.foreign_messages()

    await testing.eventually(counted, lambda n: n >= 2 * len(inboxes), "foreign messages counted")
    for stream, name in created:
        await js.delete_consumer(stream, name)
    await js.delete_stream("FORGERY")
    assert await settled_record(system) == before


# --- the backlog gauges under the shipped permissions ---------------------------------------------------


async def test_every_consumer_service_shows_its_backlog_gauges_without_a_violation(system: System) -> None:
    mark = len(system.log.read_text())
    for name in (nats_access.POLICY, nats_access.REMINDERS, nats_access.REPORTS):
        runtime = system.runtimes[name]
        text = (await telemetry_of(runtime.broker).exposition(runtime.broker, runtime.consumers)).decode()
        durables = {consumer.durable for consumer in runtime.consumers}
        assert durables and durables <= {durable for _stream, durable in nats_access.DURABLES[name]}
        for durable in durables:
            assert f'majorops_consumer_pending_messages{{durable="{durable}",service="{name}"}}' in text, (
                name,
                durable,
            )
    assert system.violations(mark) == []


async def test_the_mirrors_follow_the_services_streams(system: System) -> None:
    other = await connect(f"nats://127.0.0.1:{system.nats.port}", nats_access.CONSUMER)
    js = system.admin.nc.jetstream()
    for stream in nats_access.STREAMS:
        origin = (await js.stream_info(stream)).state.last_seq
        await testing.eventually(
            lambda s=stream: mirrored(other, s), lambda seq, o=origin: seq >= o, f"the mirror of {stream}"
        )
    with pytest.raises(NotFoundError):
        await other.js.find_stream_name_by_subject(subjects.decision_subject(INCIDENT))
    await other.nc.close()
