"""End to end on a NATS cluster: `majorops up --cluster 3`, the README's quick start, streams R3,
a kill -9 of a node (the leader of the events stream) while events keep being accepted and processed,
the node restarted by the supervisor, and a clean stop.

Three real nats-servers from the wheel on loopback, four service processes connected to all three,
SQLite stores in a temporary data dir.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from majorops.cli.credentials import ROUTE_PASSWORD_KEY, read_env_file
from majorops.cli.natsserver import consecutive_free_ports
from majorops.shared import subjects
from majorops.shared.testing import bearer, processes_of
from majorops.shared.testkit import UpProcess, wait_for

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[1] / "README.md"
NODES = 3
STREAMS = (
    subjects.EVENTS_STREAM,
    subjects.DECISIONS_STREAM,
    subjects.ESCALATIONS_STREAM,
    subjects.DEADLETTER_STREAM,
    f"KV_{subjects.INGEST_SEEN_BUCKET}",
)


def readme_events() -> list[dict[str, Any]]:
    """The events the README's quick start posts (the JSON after ``-d '``)."""
    text = README.read_text()
    block = text[text.index("post an incident's events") :]
    body = block[block.index("-d '") + len("-d '") :]
    return json.loads(body[: body.index("'")])  # type: ignore[no-any-return]


@dataclass
class ClusterUp(UpProcess):
    """``majorops up --cluster 3``: its nodes' client ports follow ``nats_port``."""

    nats_port: int = field(default_factory=lambda: consecutive_free_ports(NODES))

    def start(self, *options: str, timeout: float = 60.0) -> float:
        return super().start("--cluster", str(NODES), *options, timeout=timeout)

    @property
    def credentials(self) -> dict[str, str]:
        return read_env_file(self.data_dir / "credentials.env")

    def post(self, body: Any) -> dict[str, Any]:
        """Post like a sender that retries until ingest answers 202 (a node may be electing)."""
        headers = bearer(self.credentials["INGEST_TOKEN"])

        def attempt() -> dict[str, Any] | None:
            resp = httpx.post(
                f"http://127.0.0.1:{self.ingest_port}/v1/events", json=body, headers=headers, timeout=10
            )
            return resp.json() if resp.status_code == 202 else None  # type: ignore[no-any-return]

        return wait_for(attempt, 30, "ingest to accept")  # type: ignore[no-any-return]

    def review(self, incident: str) -> dict[str, Any] | None:
        headers = bearer(self.credentials["REPORTS_READ_TOKEN"])
        resp = httpx.get(
            f"http://127.0.0.1:{self.reports_port}/v1/reviews/{incident}", headers=headers, timeout=5
        )
        return resp.json() if resp.status_code == 200 else None  # type: ignore[no-any-return]

    def settled_review(self, incident: str, timeout: float = 30) -> dict[str, Any]:
        """The review once its three events are in, policy decided and reminders fired every level.

        Reports reads events, decisions and escalations on three consumers: after a node dies
        they resume independently, so a review may show its escalations before its timeline.
        """
        return wait_for(  # type: ignore[no-any-return]
            lambda: (
                (r := self.review(incident))
                and len(r["timeline"]) == 3
                and r["after_action"]["requirement"] == "mandatory"
                and len(r["escalations"]) == 6
                and r
            ),
            timeout,
            f"the review of {incident} with its escalations",
        )

    def node_pids(self) -> dict[int, int]:
        """Node number → pid of its nats-server (found by its config file)."""
        found = {}
        for pid, cmdline in processes_of(self.data_dir).items():
            for n in range(1, NODES + 1):
                if "nats-server" in cmdline and f"nats-{n}-server.conf" in cmdline:
                    found[n] = pid
        return found

    def streams(self) -> dict[str, Any]:
        """``stream_info`` of every stream and the bucket, as ``admin``."""
        urls = [f"nats://127.0.0.1:{self.nats_port + i}" for i in range(NODES)]

        async def infos() -> dict[str, Any]:
            nc = await nats.connect(
                urls, user="admin", password=self.credentials["NATS_ADMIN_PASSWORD"], connect_timeout=3
            )
            try:
                js = nc.jetstream()
                return {name: await js.stream_info(name) for name in STREAMS}
            finally:
                await nc.close()

        return asyncio.run(infos())


def replicated(infos: dict[str, Any]) -> bool:
    """Every stream R3 with a leader and both other copies current."""
    return all(
        info.config.num_replicas == NODES
        and info.cluster is not None
        and info.cluster.leader
        and len(info.cluster.replicas or []) == NODES - 1
        and all(peer.current for peer in info.cluster.replicas)
        for info in infos.values()
    )


def incident_events(incident: str, prefix: str) -> list[dict[str, Any]]:
    """The README's three events for another incident."""
    return [
        {**e, "id": f"{prefix}-{e['id']}", "subject": incident, "source": "e2e-cluster"}
        for e in readme_events()
    ]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterUp]:
    system = ClusterUp(tmp_path / "majorops")
    yield system
    if system.process is not None and system.process.poll() is None:
        system.process.kill()
    for pid in processes_of(system.data_dir):
        os.kill(pid, signal.SIGKILL)


def test_up_on_a_three_node_cluster_survives_the_kill_9_of_a_node(cluster: ClusterUp) -> None:
    began = time.monotonic()
    cluster.start()
    printed = "".join(cluster.output)
    urls = ",".join(f"nats://127.0.0.1:{cluster.nats_port + i}" for i in range(NODES))
    assert urls in printed, printed
    assert "cluster of 3" in printed and "streams R3" in printed
    assert set(cluster.node_pids()) == {1, 2, 3}

    # Every stream and the bucket of accepted ids is R3, as admin sees it.
    infos = wait_for(lambda: (i := cluster.streams()) and replicated(i) and i, 20, "R3 streams")
    assert {name: info.config.num_replicas for name, info in infos.items()} == dict.fromkeys(STREAMS, 3)

    # The README's quick start, with the token from credentials.env.
    assert cluster.post(readme_events()) == {"accepted": 3, "duplicates": 0}
    review = cluster.settled_review("INC-1042")
    assert review["after_action"]["deadlines"]["schedule_by"] == "2026-11-21T12:00:00Z"
    assert {e["kind"] for e in review["escalations"]} == {
        "after_action_not_scheduled",
        "after_action_not_held",
    }
    assert cluster.post(readme_events()) == {"accepted": 0, "duplicates": 3}

    # kill -9 the node leading the events stream: the hardest one to lose.
    leader = infos[subjects.EVENTS_STREAM].cluster.leader
    victim = int(leader.rsplit("-", 1)[1])
    old_pid = cluster.node_pids()[victim]
    os.kill(old_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    # Events are still accepted (a new leader is elected among the two left) and processed.
    assert cluster.post(incident_events("INC-2042", "c1")) == {"accepted": 3, "duplicates": 0}
    accepted = time.monotonic() - killed_at
    after = cluster.settled_review("INC-2042", timeout=60)
    assert [item["type"] for item in after["timeline"]] == [
        "incident.declared",
        "incident.resolved",
        "incident.closed",
    ]
    recovered = time.monotonic() - killed_at
    # The supervisor restarted the node; it caught up, and the streams are whole again.
    wait_for(lambda: cluster.node_pids().get(victim) not in (None, old_pid), 20, "the node restarted")
    wait_for(lambda: replicated(cluster.streams()), 30, "every stream R3 and current again")
    assert cluster.post(incident_events("INC-2042", "c1")) == {"accepted": 0, "duplicates": 3}

    assert cluster.stop() == 0
    output = "".join(cluster.output)
    assert f"nats-server majorops-{victim} exited; restarting it" in output
    assert "stopped" in output
    wait_for(lambda: not processes_of(cluster.data_dir), 10, "no process left")

    # No secret reaches a log or the terminal, the routes' password included.
    issued = cluster.credentials
    assert ROUTE_PASSWORD_KEY in issued
    logs = "".join(p.read_text(errors="replace") for p in (cluster.data_dir / "logs").glob("*.log*"))
    secrets = {name: value.rpartition(":")[2] for name, value in issued.items()}
    assert [name for name, secret in secrets.items() if secret in logs or secret in output] == []
    took = time.monotonic() - began
    print(
        f"cluster e2e: {took:.1f} s; after the kill -9: accepted {accepted:.1f} s, processed {recovered:.1f} s"
    )
    assert took < 90
