"""MAJOROPS_STREAM_REPLICAS: provisioning creates every stream and the key-value bucket with the
replica count a deployment asks for, and moves existing ones to it — on a real 3-node JetStream
cluster of nats-servers from the wheel."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.errors import APIError
from pydantic import ValidationError

from majorops.cli.natsserver import NatsCluster, NatsServer, consecutive_free_ports, free_port
from majorops.shared import subjects
from majorops.shared.connecting import connect_broker
from majorops.shared.jetstream import STREAMS, key_value_config, stream_config
from majorops.shared.nats_connection import nats_servers
from majorops.shared.provision import provision_at
from majorops.shared.settings import CommonSettings

ADMIN_PASSWORD = "admin-password-for-the-test"
BUCKET_STREAM = f"KV_{subjects.INGEST_SEEN_BUCKET}"
ALL = [spec.name for spec in STREAMS] + [BUCKET_STREAM]


def test_the_setting_is_one_to_five_and_one_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CommonSettings().stream_replicas == 1
    monkeypatch.setenv("MAJOROPS_STREAM_REPLICAS", "3")
    assert CommonSettings().stream_replicas == 3
    for wrong in ("0", "6", "three"):
        monkeypatch.setenv("MAJOROPS_STREAM_REPLICAS", wrong)
        with pytest.raises(ValidationError):
            CommonSettings()


def test_stream_and_bucket_configs_carry_the_count() -> None:
    assert {stream_config(spec, 3).num_replicas for spec in STREAMS} == {3}
    assert {stream_config(spec).num_replicas for spec in STREAMS} == {1}
    assert key_value_config("b", "d", 3).replicas == 3


def test_a_url_setting_names_one_server_or_a_cluster() -> None:
    assert nats_servers("nats://a:4222") == ["nats://a:4222"]
    assert nats_servers(" nats://a:4222, nats://b:4222 ,,nats://c:4222") == [
        "nats://a:4222",
        "nats://b:4222",
        "nats://c:4222",
    ]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    data_dir = tmp_path_factory.mktemp("cluster")
    nodes = NatsCluster(
        data_dir=data_dir,
        port=consecutive_free_ports(3),
        log_dir=data_dir / "logs",
        users={"admin": ADMIN_PASSWORD},
        route_password="route-password-for-the-test",
    )
    nodes.start()
    yield nodes
    nodes.stop()


@pytest.fixture
async def admin(cluster: NatsCluster) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_servers(cluster.url), user="admin", password=ADMIN_PASSWORD)
    yield nc.jetstream()
    await nc.close()


async def replicas(js: JetStreamContext) -> dict[str, int | None]:
    return {name: (await js.stream_info(name)).config.num_replicas for name in ALL}


async def test_provision_creates_the_count_asked_and_moves_existing_streams_to_another(
    cluster: NatsCluster, admin: JetStreamContext
) -> None:
    await provision_at(cluster.url, 1, user="admin", password=ADMIN_PASSWORD)
    assert await replicas(admin) == dict.fromkeys(ALL, 1)
    await provision_at(cluster.url, 3, user="admin", password=ADMIN_PASSWORD)
    assert await replicas(admin) == dict.fromkeys(ALL, 3)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the copies are really placed on the three servers
        info = await admin.stream_info(subjects.EVENTS_STREAM)
        if info.cluster and info.cluster.leader and len(info.cluster.replicas or []) == 2:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"events stream not on three servers: {info.cluster}")
    await provision_at(cluster.url, 3, user="admin", password=ADMIN_PASSWORD)  # again: nothing changes
    assert await replicas(admin) == dict.fromkeys(ALL, 3)


def test_the_provision_job_reads_the_count_from_the_environment(cluster: NatsCluster) -> None:
    """What compose's and Kubernetes' provision job runs: MAJOROPS_STREAM_REPLICAS=3, every node."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAJOROPS_")}
    env |= {
        "MAJOROPS_NATS_URL": cluster.url,
        "MAJOROPS_NATS_USER": "admin",
        "MAJOROPS_NATS_PASSWORD": ADMIN_PASSWORD,
        "MAJOROPS_STREAM_REPLICAS": "3",
    }
    done = subprocess.run(
        [sys.executable, "-m", "majorops.shared.provision"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "3 replicas each" in done.stdout


async def test_more_replicas_than_a_lone_server_can_hold_is_refused_at_once(tmp_path: Path) -> None:
    server = NatsServer(data_dir=tmp_path, port=free_port(), log_file=tmp_path / "nats.log")
    server.start()
    try:
        began = time.monotonic()
        with pytest.raises(APIError) as refused:
            await provision_at(server.url, 3)
        assert refused.value.err_code == 10074  # replicas > 1 not supported in non-clustered mode
        assert time.monotonic() - began < 10, "a refusal is not a JetStream still forming"
    finally:
        server.stop()


async def test_a_service_starting_while_the_cluster_forms_waits_for_jetstream_instead_of_exiting(
    tmp_path: Path,
) -> None:
    """A replica started right after a node or the whole cluster restarted meets a JetStream with no
    leader yet: its stream lookups time out or answer "not ready". It asks again until JetStream
    answers (the reliability campaign saw replicas exit there and be restarted by the supervisor)."""
    nodes = NatsCluster(
        data_dir=tmp_path,
        port=consecutive_free_ports(3),
        log_dir=tmp_path / "logs",
        route_password="route-password-for-the-test",
    )
    first = nodes.nodes[0]
    first.launch()
    try:
        first.wait_listening(30)
        broker = NatsBroker(servers=[first.url])
        connecting = asyncio.create_task(connect_broker(broker))
        await asyncio.sleep(4)  # one node of three: no JetStream meta leader
        assert not connecting.done(), connecting.exception() if connecting.done() else None
        for node in nodes.nodes[1:]:
            node.launch()
        connection = await asyncio.wait_for(connecting, 60)
        js = connection.jetstream()
        assert {(await js.stream_info(spec.name)).config.name for spec in STREAMS} == {
            s.name for s in STREAMS
        }
        await broker.stop()
    finally:
        nodes.stop()
