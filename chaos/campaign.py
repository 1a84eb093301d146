"""One campaign run: start the system, post the workload under faults, heal, drain, check, report.

The checks themselves (what a user of the system would notice, each a violation when it is not
zero) are in ``chaos.checks``; what a run reports is in ``chaos.outcome``.

Dead letters are listed with their reasons; those left by a transient failure (a store outage) are
replayed with ``majorops deadletter replay`` after healing, as an operator would, and the checks run
after that replay.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chaos.checks import Checks, held_events, missing_from_reviews
from chaos.expected import expect
from chaos.faults import FaultDriver
from chaos.observe import (
    admin_connection,
    dead_letters,
    deadletter_cli,
    durable_backlogs,
    read_stream,
    reviews,
)
from chaos.outcome import Outcome
from chaos.plan import CampaignPlan
from chaos.sender import Sender, SendLog
from chaos.system import ChaosSystem, Say
from chaos.workload import Workload, WorkloadWriter
from majorops.policy.domain.business_days import BusinessCalendar
from majorops.shared import subjects


class Campaign:
    def __init__(self, plan: CampaignPlan, seed: int, workdir: Path, say: Say) -> None:
        self.plan = plan
        self.seed = seed
        self.workdir = workdir
        self.say = say
        self.interval = timedelta(seconds=plan.escalation_interval)
        self.calendar = BusinessCalendar()
        self.system = ChaosSystem(
            workdir,
            {
                "MAJOROPS_ACK_WAIT_SECONDS": str(plan.ack_wait),
                "MAJOROPS_ESCALATION_INTERVAL": str(plan.escalation_interval),
                "MAJOROPS_LOG_LEVEL": "INFO",
            },
            say,
        )
        self.outcome = Outcome(seed, plan.name)
        self.checks = Checks(plan, self.system, self.interval, self.calendar, self.outcome)
        self.replayed: list[int] = []

    async def run(self) -> Outcome:
        began = time.monotonic()
        system = self.system
        await system.start()
        supervisor = asyncio.create_task(system.supervise(), name="supervisor")
        nc = await admin_connection(system)
        js = nc.jetstream()
        try:
            t0 = datetime.now(UTC)
            workload = WorkloadWriter(self.plan, self.seed, t0).write()
            started = time.monotonic() - (t0 - workload.t0).total_seconds()
            self.say(
                f"workload: {len(workload.incidents)} incidents × {self.plan.events_per_incident} events "
                f"({len(workload.valid)} valid, {workload.duplicates} sent again, {len(workload.invalid)} "
                f"invalid, {len(workload.bypass)} bypassing ingest) in {len(workload.posts)} requests; "
                f"profiles {dict(workload.profiles)}"
            )
            self.say(f"faults (t = seconds since the workload started at {workload.t0.isoformat()}):")
            rng = random.Random(f"sender-{self.seed}")  # noqa: S311 - seeded choices, not secrets
            async with Sender(system, rng) as sender:
                sender.give_up_at = started + workload.last_post_at + 300.0
                driver = FaultDriver(system, self.plan, self.seed, sender, started, self.say)
                sending = asyncio.create_task(sender.run(workload.posts, started), name="sender")
                bypassing = asyncio.create_task(self._bypass(js, workload, started), name="bypass")
                try:
                    await driver.run()
                finally:
                    if driver.lock is not None:
                        driver.lock.release()
                    await system.heal()
                healed = time.monotonic() - started
                self.say(f"  t+{healed:6.1f}s  healed: every node and replica running")
                await asyncio.gather(sending, bypassing)
                self.say(f"  t+{time.monotonic() - started:6.1f}s  every request answered")
                wait = started + workload.last_level_at + 5.0 - time.monotonic()
                if wait > 0:
                    self.say(f"waiting {wait:.0f} s for the last live levels to fall due")
                    await asyncio.sleep(wait)
                await self._drain(js, sender.log, workload)
                letters = await asyncio.to_thread(dead_letters, system)
                transient = [
                    letter for letter in letters if not str(letter.get("reason", "")).startswith("poison")
                ]
                if transient:
                    await self._replay(transient)
                    await self._drain(js, sender.log, workload)
                    letters = await asyncio.to_thread(dead_letters, system)
                await self.checks.run(js, workload, sender.log, driver.log, letters, self.replayed)
                self.outcome.figures["run_seconds"] = round(time.monotonic() - began, 1)
                self.outcome.figures["healed_at_s"] = round(healed, 1)
        finally:
            system.stopping = True
            supervisor.cancel()
            await nc.close()
            system.stop()
        return self.outcome

    async def _bypass(self, js: Any, workload: Workload, started: float) -> None:
        """Invalid envelopes published straight to the events stream, as a producer bypassing ingest."""
        for envelope, at in sorted(zip(workload.bypass, workload.bypass_at, strict=True), key=lambda p: p[1]):
            delay = started + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            subject = subjects.event_subject(envelope["subject"], envelope["type"])
            for _attempt in range(120):  # through a cluster restart; the checks say if it never got in
                try:
                    await js.publish(
                        subject,
                        json.dumps(envelope).encode(),
                        headers={"Nats-Msg-Id": envelope["id"]},
                        timeout=5,
                    )
                    break
                except Exception:
                    await asyncio.sleep(1.0)

    async def _drain(self, js: Any, log: SendLog, workload: Workload) -> None:
        """Until every durable is empty, every expected escalation is published and every review
        holds its accepted events (or the time runs out: the checks then say what is missing)."""
        deadline = time.monotonic() + (300.0 if self.plan.name == "full" else 120.0)
        began = time.monotonic()
        stable = 0
        while time.monotonic() < deadline and stable < 3:
            try:
                backlog = await durable_backlogs(js)
            except Exception:
                stable = 0
                await asyncio.sleep(1.0)
                continue
            stable = stable + 1 if all(v == (0, 0) for v in backlog.values()) else 0
            await asyncio.sleep(1.0)
        self.say(f"durable consumers drained in {time.monotonic() - began:.1f} s")
        published: set[str] = set()
        while time.monotonic() < deadline:
            held, _ = await held_events(js)
            final = expect(
                {i: [h.event for h in evs] for i, evs in held.items()},
                datetime.now(UTC),
                self.interval,
                self.calendar,
            )
            published = {
                m.msg_id for m in await read_stream(js, subjects.ESCALATIONS_STREAM, subjects.ALL_ESCALATIONS)
            }
            missing = set(final.firing) - published
            if not missing:
                break
            await asyncio.sleep(2.0)
        self.say(f"escalations settled after {time.monotonic() - began:.1f} s")
        incidents = sorted({event_id.rsplit("-e", 1)[0] for event_id in log.accepted_at})
        while time.monotonic() < deadline:
            shown = await reviews(self.system, incidents)
            escalated = {
                entry.get("escalation_id")
                for review in shown.values()
                for entry in (review or {}).get("escalations", [])
            }
            if not missing_from_reviews(shown, log.accepted_at, incidents) and published <= escalated:
                break
            await asyncio.sleep(3.0)
        self.say(f"reviews settled after {time.monotonic() - began:.1f} s")

    async def _replay(self, letters: list[dict[str, Any]]) -> None:
        sequences = [str(letter["sequence"]) for letter in letters]
        args = ["replay", "--json"] + [arg for seq in sequences for arg in ("--seq", seq)]
        done = await asyncio.to_thread(deadletter_cli, self.system, *args)
        self.say(
            f"majorops deadletter replay of {len(sequences)} letter(s): {done.stdout.strip() or done.stderr.strip()}"
        )
        if done.returncode == 0:
            self.replayed = json.loads(done.stdout).get("replayed", [])
