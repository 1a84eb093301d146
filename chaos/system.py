"""The system under test: a 3-node nats-server cluster from the wheel and two replicas of each service.

Everything is a real process on loopback, started the way ``majorops up --cluster 3`` starts it
(generated credentials, NATS users with their permissions, routes with a password, every stream R3,
``sync_interval: always``), but with two replicas of each service: both ingest and both reports
replicas serve HTTP on ports of their own, the policy and reminders replicas share their durable
consumers, and the two replicas of a service share its SQLite file in the data dir.

A small supervisor restarts a replica that died, as ``majorops up`` or an orchestrator would: after
the delay the fault driver chose for a kill, with back-off for an exit nobody caused. Nodes of the
cluster are restarted by the fault driver itself, which owns their downtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from majorops.cli.credentials import Credentials, load_or_generate
from majorops.cli.natsserver import (
    NatsCluster,
    NatsServer,
    consecutive_free_ports,
    die_with_parent,
    free_port,
)
from majorops.shared import nats_access
from majorops.shared.provision import provision_with_mirrors

SERVICES = ("ingest", "policy", "reminders", "reports")
REPLICAS_PER_SERVICE = 2
NODES = 3
PORT_SETTING = {
    "ingest": "MAJOROPS_INGEST_PORT",
    "reports": "MAJOROPS_REPORTS_PORT",
    "policy": "MAJOROPS_POLICY_HTTP_PORT",
    "reminders": "MAJOROPS_REMINDERS_HTTP_PORT",
}
"""Where each replica listens: the HTTP API of ingest and reports, the probes of policy and reminders."""
MAX_BACKOFF_SECONDS = 5.0
READY_TIMEOUT_SECONDS = 90.0

Say = Callable[[str], None]


@dataclass
class Replica:
    """One service process: started, SIGKILLed, SIGSTOPped and restarted by the campaign."""

    service: str
    number: int
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    paused: bool = False
    restart_at: float | None = None
    """When the supervisor starts it again (monotonic); None while it runs."""
    killed: bool = False
    """Killed on purpose: its exit is no surprise."""
    starts: int = 0
    unplanned_exits: list[int] = field(default_factory=list)
    """Exit codes of the exits nobody caused (e.g. a start while every NATS node was down)."""

    @property
    def name(self) -> str:
        return f"{self.service}-{self.number}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"majorops.{self.service}"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.paused = False
        self.killed = False
        self.restart_at = None
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, restart_after: float) -> None:
        """SIGKILL (a stopped process dies too); the supervisor starts it again after ``restart_after``."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.paused = False
        self.killed = True
        self.restart_at = time.monotonic() + restart_after

    def pause(self) -> bool:
        if not self.alive() or self.paused:
            return False
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True
        return True

    def resume(self) -> None:
        if self.paused and self.alive():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False

    def terminate(self) -> None:
        if self.alive():
            assert self.process is not None
            if self.paused:
                os.kill(self.process.pid, signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)

    def wait_or_kill(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ChaosSystem:
    """The cluster, the eight replicas and their supervisor, in ``workdir/data``."""

    def __init__(self, workdir: Path, settings: dict[str, str], say: Say = print) -> None:
        self.data_dir = workdir / "data"
        self.logs = self.data_dir / "logs"
        self.say = say
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.credentials: Credentials = load_or_generate(self.data_dir, {}, embedded_nats=True, cluster=True)
        self.cluster = NatsCluster(
            data_dir=self.data_dir,
            size=NODES,
            port=consecutive_free_ports(NODES),
            log_dir=self.logs,
            sync_interval="always",
            users=self.credentials.nats_users(),
            route_password=self.credentials.route_password or "",
        )
        base = {k: v for k, v in os.environ.items() if not k.startswith("MAJOROPS_")}
        common = {
            **base,
            "MAJOROPS_NATS_URL": self.cluster.url,
            "MAJOROPS_DATA_DIR": str(self.data_dir.resolve()),
            "MAJOROPS_STREAM_REPLICAS": str(NODES),
            "MAJOROPS_INGEST_HOST": "127.0.0.1",
            "MAJOROPS_REPORTS_HOST": "127.0.0.1",
            "MAJOROPS_POLICY_HTTP_HOST": "127.0.0.1",
            "MAJOROPS_REMINDERS_HTTP_HOST": "127.0.0.1",
            **self.credentials.settings,
            **settings,
        }
        self.replicas: list[Replica] = []
        for service in SERVICES:
            password = self.credentials.nats_passwords[service]
            for number in range(1, REPLICAS_PER_SERVICE + 1):
                port = free_port()
                log_path = self.logs / f"{service}-{number}.log"
                env = {
                    **common,
                    **nats_access.service_env(service, password),
                    PORT_SETTING[service]: str(port),
                    "MAJOROPS_REPLICA": f"{service}-{number}",
                    "MAJOROPS_LOG_FILE": str(log_path.resolve()),
                }
                self.replicas.append(Replica(service, number, port, env, log_path))
        self.stopping = False

    # --- where things are -----------------------------------------------------------------------

    @property
    def nats_url(self) -> str:
        return self.cluster.url

    def admin_options(self) -> dict[str, Any]:
        return {"user": nats_access.ADMIN, "password": self.credentials.nats_passwords[nats_access.ADMIN]}

    def consumer_options(self) -> dict[str, Any]:
        return {"user": "consumer", "password": self.credentials.settings["MAJOROPS_NATS_CONSUMER_PASSWORD"]}

    def token(self, setting: str) -> str:
        return self.credentials.settings[setting].rpartition(":")[2]

    def of(self, service: str) -> list[Replica]:
        return [r for r in self.replicas if r.service == service]

    def replica(self, name: str) -> Replica:
        return next(r for r in self.replicas if r.name == name)

    @property
    def nodes(self) -> list[NatsServer]:
        return self.cluster.nodes

    # --- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self.say(f"starting a {NODES}-node nats-server cluster at {self.cluster.url} (sync_interval always)")
        await asyncio.to_thread(self.cluster.start, 60.0)
        # The other systems' account and its mirrors too, as every deployment has them.
        await provision_with_mirrors(
            self.cluster.url,
            NODES,
            self.credentials.nats_passwords[nats_access.REPLICATOR],
            **self.admin_options(),
        )
        for replica in self.replicas:
            replica.start()
        await self.wait_ready(self.replicas)
        self.say(
            "ready: "
            + ", ".join(f"{r.name} pid {r.process.pid if r.process else '?'}" for r in self.replicas)
        )

    async def wait_ready(self, replicas: list[Replica], timeout: float = READY_TIMEOUT_SECONDS) -> None:
        pending = {r.name: r for r in replicas}
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as http:
            while pending and time.monotonic() < deadline:
                for name, replica in list(pending.items()):
                    if not replica.alive():
                        continue  # the supervisor (or the start above) brings it back
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"{replica.url}/readyz")).status_code == 200:
                            del pending[name]
                if pending:
                    await asyncio.sleep(0.3)
        if pending:
            raise RuntimeError(f"not ready within {timeout:.0f} s: {', '.join(pending)}")

    async def supervise(self) -> None:
        """Restart replicas that died: on the fault driver's schedule, or with back-off."""
        while not self.stopping:
            now = time.monotonic()
            for replica in self.replicas:
                if replica.alive():
                    continue
                if replica.restart_at is None:
                    code = replica.process.returncode if replica.process else None
                    replica.unplanned_exits.append(code if code is not None else -1)
                    backoff = min(2.0 ** len(replica.unplanned_exits) / 2, MAX_BACKOFF_SECONDS)
                    replica.restart_at = now + backoff
                    self.say(
                        f"  {replica.name} exited by itself (code {code}); restarting in {backoff:.1f} s"
                    )
                elif now >= replica.restart_at:
                    replica.start()
            await asyncio.sleep(0.2)

    async def kill_node(self, node: NatsServer) -> None:
        if node.process is not None and node.process.poll() is None:
            os.kill(node.process.pid, signal.SIGKILL)
            await asyncio.to_thread(node.process.wait)

    async def start_node(self, node: NatsServer) -> None:
        node.launch()
        await asyncio.to_thread(node.wait_listening, 30.0)

    async def wait_cluster_healthy(self, timeout: float = 60.0) -> float:
        began = time.monotonic()
        await asyncio.to_thread(self.cluster.wait_healthy, timeout)
        return time.monotonic() - began

    async def heal(self) -> None:
        """Every node and replica running and none paused: the end of the fault window."""
        for node in self.nodes:
            if not node.alive():
                await self.start_node(node)
        for replica in self.replicas:
            replica.resume()
            if not replica.alive() and replica.restart_at is not None:
                replica.restart_at = time.monotonic()
        await self.wait_cluster_healthy()
        await asyncio.sleep(0.5)  # the supervisor starts what was due
        await self.wait_ready(self.replicas)

    def stop(self) -> None:
        self.stopping = True
        order = ("ingest", "reports", "policy", "reminders")
        replicas = sorted(self.replicas, key=lambda r: order.index(r.service))
        for replica in replicas:
            replica.terminate()
        for replica in replicas:
            replica.wait_or_kill(15.0)
        self.cluster.stop()


class StoreLock:
    """Another process holding the write lock of a service's SQLite file for a while.

    ``BEGIN EXCLUSIVE`` on the file, held for ``seconds``: in WAL mode readers go on, every write of
    both replicas of that service waits for it (their busy timeout is 30 s) and fails after.
    """

    SCRIPT = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], timeout=120, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "c.execute('ROLLBACK')\n"
        "print('released', flush=True)\n"
    )

    def __init__(self, path: Path, seconds: float) -> None:
        self.path = path
        self.seconds = seconds
        self.process: subprocess.Popen[str] | None = None

    def _spawn(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", self.SCRIPT, str(self.path), str(self.seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=die_with_parent,
        )

    async def hold(self) -> tuple[float, float]:
        """Take the lock, hold it, release it: (locked at, released at) in monotonic time."""
        self.process = self._spawn()
        assert self.process.stdout is not None
        first = await asyncio.to_thread(self.process.stdout.readline)
        if first.strip() != "locked":
            raise RuntimeError(f"could not lock {self.path}: {first}{self.process.stdout.read()}")
        locked = time.monotonic()
        await asyncio.to_thread(self.process.wait)
        return locked, time.monotonic()

    def release(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
