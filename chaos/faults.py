"""The fault driver: SIGKILLs and SIGSTOPs of service replicas, SIGKILLs of nats-servers, restarts of
the whole cluster and a store outage, on a seeded schedule while the workload is posted.

Service kills and pauses happen at their own seeded moments, concurrently with everything else.
Broker faults and the store outage happen one after another (a second node lost while one is down
would take the cluster's majority away, which is not what is being tested), each followed by a
canary: a new incident posted right after the fault, whose review must show its decision and
escalations. The time from a broker restart to that review is how long the consumers took to resume
(the promise: 30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from chaos.history import iso
from chaos.plan import CampaignPlan
from chaos.sender import Sender
from chaos.system import ChaosSystem, Replica, Say, StoreLock
from majorops.cli.natsserver import NatsServer

CANARY_TIMEOUT_SECONDS = 120.0
STORES = ("policy", "reminders", "reports")


@dataclass
class FaultRecord:
    at: float
    """Seconds after the start of the workload."""
    kind: str
    target: str
    seconds: float = 0.0
    """How long the node was down, the process paused, the store locked."""


@dataclass
class Resumption:
    after: str
    at: float
    seconds: float | None
    """From the fault (or restart) to the canary's review with its decision and escalations; None if
    it never came within :data:`CANARY_TIMEOUT_SECONDS`."""
    promised: bool
    """A broker restart: held to the plan's ``resume_limit``."""
    incident: str = ""


@dataclass
class FaultLog:
    faults: list[FaultRecord] = field(default_factory=list)
    resumptions: list[Resumption] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.faults if f.kind == kind)


class FaultDriver:
    def __init__(
        self, system: ChaosSystem, plan: CampaignPlan, seed: int, sender: Sender, started: float, say: Say
    ) -> None:
        self.system = system
        self.plan = plan
        self.rng = random.Random(f"faults-{seed}")  # noqa: S311 - seeded faults, not secrets
        self.seed = seed
        self.sender = sender
        self.started = started
        self.say = say
        self.log = FaultLog()
        self.canaries = 0
        self.lock: StoreLock | None = None
        self.read_token = system.token("MAJOROPS_REPORTS_READ_TOKENS")

    def now(self) -> float:
        return time.monotonic() - self.started

    def note(self, kind: str, target: str, seconds: float = 0.0) -> FaultRecord:
        record = FaultRecord(round(self.now(), 1), kind, target, round(seconds, 1))
        self.log.faults.append(record)
        extra = f" for {seconds:.1f} s" if seconds else ""
        self.say(f"  t+{record.at:6.1f}s  {kind:<16} {target}{extra}")
        return record

    async def run(self) -> None:
        await asyncio.gather(self._kills(), self._pauses(), self._sequence())

    # --- service replicas ----------------------------------------------------------------------------

    async def _at(self, offset: float) -> None:
        delay = offset - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    def _stand_in(self, name: str) -> Replica:
        """The replica named, or — when it is down or paused already — the first one running, the
        same service's first (no random draw: the seeded schedule stays the same)."""
        wanted = self.system.replica(name)
        running = [r for r in self.system.replicas if r.alive() and r.restart_at is None and not r.paused]
        if wanted in running or not running:
            return wanted
        same = [r for r in running if r.service == wanted.service]
        return (same or running)[0]

    async def _kills(self) -> None:
        names = [r.name for r in self.system.replicas]
        schedule = sorted(
            (self.rng.uniform(3.0, self.plan.kill_window), self.rng.choice(names), self.rng.uniform(0.5, 3.0))
            for _ in range(self.plan.service_kills)
        )
        for moment, name, delay in schedule:
            await self._at(moment)
            replica = self._stand_in(name)
            was = "paused " if replica.paused else ""
            replica.kill(restart_after=delay)
            self.note("kill -9 service", f"{was}{replica.name} (back in {delay:.1f} s)")

    async def _pauses(self) -> None:
        lo, hi = self.plan.pause_seconds
        names = [r.name for r in self.system.replicas if r.service != "ingest"]
        schedule = sorted(
            (
                self.rng.uniform(5.0, self.plan.kill_window - hi),
                self.rng.choice(names),
                self.rng.uniform(lo, hi),
            )
            for _ in range(self.plan.pauses)
        )
        for moment, name, seconds in schedule:
            await self._at(moment)
            replica = self._stand_in(name)
            if not replica.pause():
                continue
            self.note("SIGSTOP service", f"{replica.name} (ack wait {self.plan.ack_wait:.0f} s)", seconds)
            await asyncio.sleep(seconds)
            replica.resume()

    # --- the broker and the store, one after another -------------------------------------------------

    async def _sequence(self) -> None:
        rng = self.rng
        steps: list[tuple[str, Any, float]] = [
            ("node", rng.randrange(len(self.system.nodes)), rng.uniform(3.0, 8.0))
            for _ in range(self.plan.node_kills)
        ]
        steps += [("cluster", None, rng.uniform(1.0, 3.0)) for _ in range(self.plan.cluster_restarts)]
        # The store outage rotates over the three stores with the seed: three seeds in a row lock each.
        store = STORES[self.seed % len(STORES)]
        steps += [("store", store, self.plan.store_outage_seconds)]
        rng.shuffle(steps)
        gaps = [rng.uniform(2.0, 6.0) for _ in steps]
        await asyncio.sleep(rng.uniform(6.0, 10.0))
        for (kind, target, seconds), gap in zip(steps, gaps, strict=True):
            if kind == "node":
                await self._node_kill(self.system.nodes[target], seconds)
            elif kind == "cluster":
                await self._cluster_restart(seconds)
            else:
                await self._store_outage(target)
            await asyncio.sleep(gap)

    async def _node_kill(self, node: NatsServer, down: float) -> None:
        await self.system.kill_node(node)
        killed = time.monotonic()
        self.note("kill -9 nats-server", node.server_name, down)
        during = asyncio.create_task(self.canary(f"{node.server_name} killed", killed, promised=False))
        await asyncio.sleep(down)
        restarted = time.monotonic()
        await self.system.start_node(node)
        self.note("restart nats-server", node.server_name)
        after = asyncio.create_task(self.canary(f"{node.server_name} restarted", restarted, promised=True))
        await asyncio.gather(during, after)

    async def _cluster_restart(self, down: float) -> None:
        await asyncio.gather(*(self.system.kill_node(node) for node in self.system.nodes))
        self.note("kill -9 cluster", "every nats-server", down)
        await asyncio.sleep(down)
        for node in self.system.nodes:
            node.launch()
        restarted = time.monotonic()
        await asyncio.gather(*(asyncio.to_thread(node.wait_listening, 30.0) for node in self.system.nodes))
        self.note("restart cluster", "every nats-server")
        await self.canary("whole cluster restarted", restarted, promised=True)

    async def _store_outage(self, service: str) -> None:
        path = self.system.data_dir / f"{service}.sqlite3"
        self.lock = StoreLock(path, self.plan.store_outage_seconds)
        record = self.note(
            "lock SQLite", f"{path.name} (both {service} replicas)", self.plan.store_outage_seconds
        )
        _locked, released = await self.lock.hold()
        record.target += " — released"
        await self.canary(f"{service} store unlocked", released, promised=False)

    # --- canaries -----------------------------------------------------------------------------------

    def canary_events(self, incident: str) -> list[dict[str, Any]]:
        """A critical incident closed ten days ago: decided mandatory, both obligations long overdue,
        so reminders fires three levels of each at once."""
        closed = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
        declared = closed - timedelta(hours=1)

        def event(n: int, kind: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
            return {
                "specversion": "1.0",
                "id": f"{incident}-e{n}",
                "source": "chaos/canary",
                "type": f"majorops.{kind}",
                "time": iso(at),
                "subject": incident,
                "data": data,
            }

        return [
            event(1, "incident.declared", declared, {"title": "canary", "severity": "critical"}),
            event(2, "incident.resolved", closed - timedelta(minutes=10), {}),
            event(3, "incident.closed", closed, {}),
        ]

    async def canary(self, after: str, since: float, *, promised: bool) -> Resumption:
        self.canaries += 1
        incident = f"CANARY{self.seed % 100000}-{self.canaries:02d}"
        resumption = Resumption(after, round(since - self.started, 1), None, promised, incident)
        self.log.resumptions.append(resumption)
        await self.sender.deliver(self.canary_events(incident), self.rng.choice(("http", "nats")))
        deadline = since + CANARY_TIMEOUT_SECONDS
        headers = {"authorization": f"Bearer {self.read_token}"}
        async with httpx.AsyncClient(timeout=5.0, headers=headers) as http:
            while time.monotonic() < deadline:
                replica = self.rng.choice(self.system.of("reports"))
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    resp = await http.get(f"{replica.url}/v1/reviews/{incident}")
                    if resp.status_code == 200 and _settled(resp.json()):
                        resumption.seconds = round(time.monotonic() - since, 1)
                        break
                await asyncio.sleep(0.5)
        shown = f"{resumption.seconds:.1f} s" if resumption.seconds is not None else "not within the timeout"
        self.say(f"  t+{self.now():6.1f}s  canary {incident} after '{after}': processed in {shown}")
        return resumption


def _settled(review: dict[str, Any]) -> bool:
    """The canary's review shows all three events, the mandatory decision and its six escalations."""
    return (
        len(review.get("timeline", [])) == 3
        and review.get("after_action", {}).get("requirement") == "mandatory"
        and len(review.get("escalations", [])) == 6
    )
