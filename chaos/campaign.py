"""One campaign run: start the system, post the workload under faults, heal, drain, check, report.

The checks are what a user of the system would notice, each counted and printed, each a violation
when it is not zero (or, for the broker restarts, when consumers took longer than promised):

- accepted events missing from the stream or from either reports replica's reviews; events stored
  twice (the stream, a review's timeline); invalid events accepted, stored or shown;
- decision revisions duplicated or skipped; final decisions that differ from the domain's;
- escalation ids published twice; expected escalations missing (computed by the pure domain from the
  accepted events); escalations fired for obligations met in time, or otherwise not called for by
  the events JetStream held when they fired; published escalations missing from the reviews;
- consumers that did not resume within 30 s of a broker restart.

Dead letters are listed with their reasons; those left by a transient failure (a store outage) are
replayed with ``majorops deadletter replay`` after healing, as an operator would, and the checks run
after that replay.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chaos.expected import Expectation, HeldEvent, called_for, expect, justified_when_fired, met_in_time
from chaos.faults import FaultDriver, FaultLog
from chaos.observe import (
    StreamMessage,
    admin_connection,
    dead_letters,
    deadletter_cli,
    durable_backlogs,
    read_stream,
    reviews,
)
from chaos.plan import CampaignPlan
from chaos.sender import Sender, SendLog
from chaos.system import ChaosSystem, Say
from chaos.workload import Workload, WorkloadWriter
from majorops.policy.domain import BusinessCalendar
from majorops.shared import subjects
from majorops.shared.decisions import DecisionContent
from majorops.shared.events import EventValidationError, validate_event

JUSTIFY_MARGIN = timedelta(seconds=2)
"""Reminders checks that its record is complete a moment before it fires: events stored within this
margin before an escalation fired may or may not have been seen."""
SHOWN = 5


@dataclass
class Check:
    name: str
    count: int
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.count == 0


@dataclass
class Outcome:
    seed: int
    plan: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def check(self, name: str, bad: list[str] | set[str]) -> None:
        items = sorted(bad)
        self.checks.append(Check(name, len(items), items[:SHOWN]))

    def as_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "plan": self.plan,
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "figures": self.figures,
        }


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
                await self._check(js, workload, sender.log, driver.log, letters)
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
            held, _ = await self._held(js)
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
            if not _missing_from_reviews(shown, log.accepted_at, incidents) and published <= escalated:
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

    async def _held(self, js: Any) -> tuple[dict[str, list[HeldEvent]], list[StreamMessage]]:
        """Every valid event the events stream holds, first copy of each id, by incident."""
        messages = await read_stream(js, subjects.EVENTS_STREAM, subjects.ALL_EVENTS)
        held: dict[str, list[HeldEvent]] = defaultdict(list)
        seen: set[str] = set()
        for message in messages:
            try:
                event = validate_event(message.body)
            except EventValidationError:
                continue
            if event.id in seen:
                continue
            seen.add(event.id)
            held[event.incident_id].append(HeldEvent(event, message.seq, message.stored_at))
        return held, messages

    # --- the checks ---------------------------------------------------------------------------------

    async def _check(
        self,
        js: Any,
        workload: Workload,
        log: SendLog,
        faults: FaultLog,
        letters: list[dict[str, Any]],
    ) -> None:
        out = self.outcome
        now = datetime.now(UTC)
        held, messages = await self._held(js)
        final = expect(
            {i: [h.event for h in evs] for i, evs in held.items()}, now, self.interval, self.calendar
        )
        decisions = await read_stream(js, subjects.DECISIONS_STREAM, subjects.ALL_DECISIONS)
        escalations = await read_stream(js, subjects.ESCALATIONS_STREAM, subjects.ALL_ESCALATIONS)
        heads_ups = await read_stream(js, subjects.ESCALATIONS_STREAM, subjects.ALL_REMINDERS)
        accepted = log.accepted_at
        incidents = sorted({event_id.rsplit("-e", 1)[0] for event_id in accepted} | set(held))
        shown = await reviews(self.system, incidents)

        # Requests.
        out.check("valid requests refused or invalid ones accepted (sender)", log.problems)
        out.check("requests never answered", [ids[0] for ids in log.given_up])
        refused_not = set(workload.invalid) - set(log.refused)
        out.check("invalid events ingest did not refuse", refused_not)

        # Events.
        in_stream: Counter[str] = Counter(
            str(m.body.get("id"))
            for m in messages
            if isinstance(m.body, dict) and not m.msg_id.startswith("replay:")
        )
        out.check("accepted events missing from the stream", set(accepted) - set(in_stream))
        out.check("events stored twice in the stream", {i for i, n in in_stream.items() if n > 1})
        out.check("accepted events missing from reviews", _missing_from_reviews(shown, accepted, incidents))
        twice = set()
        for key, review in shown.items():
            timeline = [entry.get("event_id") for entry in (review or {}).get("timeline", [])]
            twice |= {f"{key}: {i}" for i, n in Counter(timeline).items() if n > 1}
        out.check("events twice in a review timeline", twice)
        bypass_ids = {e["id"] for e in workload.bypass}
        invalid_ids = set(workload.invalid) | bypass_ids
        shown_ids = {
            entry.get("event_id") for review in shown.values() for entry in (review or {}).get("timeline", [])
        }
        out.check(
            "invalid events processed (stored by ingest or shown in a review)",
            (set(workload.invalid) & set(in_stream)) | (invalid_ids & shown_ids),
        )
        letter_ids = defaultdict(set)
        for letter in letters:
            try:
                letter_ids[letter.get("service")].add(json.loads(letter.get("payload") or "{}").get("id"))
            except ValueError:
                continue
        out.check(
            "bypassing invalid events not dead-lettered by every consumer",
            {
                f"{service}: {i}"
                for service in ("policy", "reminders", "reports")
                for i in bypass_ids - letter_ids[service]
            },
        )

        # Decisions.
        revisions: dict[str, list[int]] = defaultdict(list)
        last: dict[str, dict[str, Any]] = {}
        for message in decisions:
            body = message.body or {}
            incident = body.get("incident_id", "?")
            revisions[incident].append(int(body.get("revision", 0)))
            if int(body.get("revision", 0)) >= int(last.get(incident, {}).get("revision", 0)):
                last[incident] = body
        duplicated = {f"{i}: {sorted(r)}" for i, r in revisions.items() if len(r) != len(set(r))}
        skipped = {
            f"{i}: {sorted(set(r))}"
            for i, r in revisions.items()
            if sorted(set(r)) != list(range(1, len(set(r)) + 1))
        }
        out.check("decision revisions duplicated", duplicated)
        out.check("decision revisions skipped", skipped)
        differing = set()
        for incident, content in final.decisions.items():
            got = last.get(incident)
            if got is None:
                differing.add(f"{incident}: no decision")
            elif _content(got) != content.model_dump(mode="json"):
                differing.add(
                    f"{incident}: published {_diff(_content(got), content.model_dump(mode='json'))}"
                )
        out.check("final decisions differing from the domain's", differing)

        # Escalations.
        ids: Counter[str] = Counter(m.msg_id for m in escalations)
        payload_ids: Counter[str] = Counter(str((m.body or {}).get("escalation_id")) for m in escalations)
        out.check(
            "escalation ids published twice",
            {i for i, n in ids.items() if n > 1} | {i for i, n in payload_ids.items() if n > 1},
        )
        published = {m.msg_id: m for m in escalations}
        out.check("expected escalations missing", set(final.firing) - set(published))
        extra = set(published) - set(final.firing)
        met, unexpected, justified = set(), set(), 0
        late_history: list[str] = []
        for escalation_id in extra:
            body = published[escalation_id].body or {}
            fired_at = datetime.fromisoformat(str(body.get("fired_at")).replace("Z", "+00:00"))
            verdict = justified_when_fired(
                escalation_id,
                body.get("incident_id", ""),
                fired_at,
                held,
                self.interval,
                self.calendar,
                JUSTIFY_MARGIN,
                final,
            )
            if verdict.justified:
                justified += 1
                if len(late_history) < 10:
                    late_history.append(_late_history(escalation_id, fired_at, held, final))
            elif met_in_time(escalation_id, final):
                met.add(f"{escalation_id}: {verdict.why}")
            else:
                unexpected.add(f"{escalation_id}: {verdict.why}")
        out.check("escalations for obligations met in time", met)
        out.check("escalations not called for by the events held when they fired", unexpected)
        in_reviews = defaultdict(set)
        for key, review in shown.items():
            for entry in (review or {}).get("escalations", []):
                in_reviews[key.split(" ", 1)[0]].add(entry.get("escalation_id"))
        out.check(
            "published escalations missing from reviews",
            {f"{replica}: {i}" for replica, seen in in_reviews.items() for i in set(published) - seen}
            | ({f"all replicas: {i}" for i in published} if not in_reviews else set()),
        )
        reminder_ids = Counter(m.msg_id for m in heads_ups)
        out.check("heads-up ids published twice", {i for i, n in reminder_ids.items() if n > 1})

        # Broker restarts.
        slow = {
            f"{r.after} at t+{r.at:.0f}s: {r.seconds if r.seconds is not None else 'never'} s"
            for r in faults.resumptions
            if r.promised and (r.seconds is None or r.seconds > self.plan.resume_limit)
        }
        out.check(
            f"broker restarts not followed by consumers resuming within {self.plan.resume_limit:.0f} s", slow
        )

        out.figures.update(
            self._figures(
                workload, log, faults, letters, final, published, justified, revisions, heads_ups, held
            )
        )
        out.figures["late_history_examples"] = late_history

    def _figures(
        self,
        workload: Workload,
        log: SendLog,
        faults: FaultLog,
        letters: list[dict[str, Any]],
        final: Expectation,
        published: dict[str, StreamMessage],
        justified: int,
        revisions: dict[str, list[int]],
        heads_ups: list[StreamMessage],
        held: dict[str, list[HeldEvent]],
    ) -> dict[str, Any]:
        # Live levels: how long after its time each fired, when JetStream held what calls for it by
        # then (a level whose history arrived after its time is counted apart).
        live_delays: list[float] = []
        slowest: list[tuple[float, str]] = []
        history_late = 0
        for escalation_id, planned in final.firing.items():
            message = published.get(escalation_id)
            if message is None or planned.at < workload.t0:
                continue
            incident = planned.obligation.incident_id
            if not called_for(
                escalation_id, incident, planned.at, planned.at, held, self.interval, self.calendar
            ):
                history_late += 1
                continue
            fired = datetime.fromisoformat(str(message.body["fired_at"]).replace("Z", "+00:00"))
            live_delays.append((fired - planned.at).total_seconds())
            slowest.append((round((fired - planned.at).total_seconds(), 1), escalation_id))
        restarts = [r for r in faults.resumptions if r.promised]
        kinds = Counter(planned.obligation.kind.value for planned in final.firing.values())
        letter_reasons = Counter(
            f"{letter.get('service')}: {str(letter.get('reason', '')).split(':', 1)[0]}" for letter in letters
        )
        return {
            "incidents": len(workload.incidents),
            "canary_incidents": len(faults.resumptions),
            "events_valid": len(workload.valid),
            "events_in_stream": sum(len(v) for v in held.values()),
            "events_sent_again": workload.duplicates,
            "events_invalid_posted": len(workload.invalid),
            "events_invalid_bypassing_ingest": len(workload.bypass),
            "requests": len(workload.posts),
            "answers": dict(sorted(log.answers.items())),
            "ingest_counted": {"accepted": log.accepted_total, "duplicates": log.duplicates_total},
            "faults": {
                "service_sigkills": faults.count("kill -9 service"),
                "nats_server_sigkills": faults.count("kill -9 nats-server"),
                "cluster_restarts": faults.count("restart cluster"),
                "sigstops": faults.count("SIGSTOP service"),
                "store_outages": faults.count("lock SQLite"),
            },
            "fault_log": [asdict(f) for f in faults.faults],
            "resumptions": [asdict(r) for r in faults.resumptions],
            "resume_seconds_max": max((r.seconds or 0.0 for r in restarts), default=0.0),
            "unplanned_exits": {r.name: r.unplanned_exits for r in self.system.replicas if r.unplanned_exits},
            "decision_revisions": sum(len(v) for v in revisions.values()),
            "escalations_published": len(published),
            "escalations_expected": len(final.firing),
            "escalations_expected_by_kind": dict(sorted(kinds.items())),
            "escalations_before_the_history_that_meets_them": justified,
            "live_levels": len(live_delays),
            "live_levels_whose_history_came_after_their_time": history_late,
            "live_level_delay_s": _spread(live_delays),
            "live_levels_latest": sorted(slowest, reverse=True)[:5],
            "heads_ups_published": len(heads_ups),
            "dead_letters": dict(sorted(letter_reasons.items())),
            "dead_letters_replayed": len(self.replayed),
            "profiles": dict(workload.profiles),
        }


def _late_history(
    escalation_id: str, fired_at: datetime, held: dict[str, list[HeldEvent]], final: Expectation
) -> str:
    """Why an escalation the final record does not call for was right when it fired."""
    planned = final.planned.get(escalation_id)
    if planned is None:
        return f"{escalation_id}: fired {fired_at:%H:%M:%S}; the final record has no such obligation"
    met = planned.obligation.met_at
    stored = [
        h.stored_at
        for h in held.get(planned.obligation.incident_id, [])
        if met is not None and h.event.occurred_at == met
    ]
    when = f", that event stored {min(stored):%H:%M:%S.%f}"[:-3] if stored else ""
    return f"{escalation_id}: fired {fired_at:%H:%M:%S.%f}"[:-3] + f"; met at {met}{when}"


def _content(decision: dict[str, Any]) -> dict[str, Any]:
    return DecisionContent.model_validate({k: v for k, v in decision.items() if k != "revision"}).model_dump(
        mode="json"
    )


def _diff(got: dict[str, Any], want: dict[str, Any]) -> str:
    keys = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
    return ", ".join(f"{k}={got.get(k)!r} (domain: {want.get(k)!r})" for k in keys)[:400]


def _missing_from_reviews(
    shown: dict[str, dict[str, Any] | None], accepted: dict[str, float], incidents: list[str]
) -> set[str]:
    by_incident: dict[str, set[str]] = defaultdict(set)
    for event_id in accepted:
        by_incident[event_id.rsplit("-e", 1)[0]].add(event_id)
    missing = set()
    for key, review in shown.items():
        replica, incident = key.split(" ", 1)
        have = {entry.get("event_id") for entry in (review or {}).get("timeline", [])}
        missing |= {f"{replica}: {i}" for i in by_incident.get(incident, set()) - have}
    return missing


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "max": round(ordered[-1], 1),
    }
