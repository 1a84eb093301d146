"""The checks of a campaign run, and the figures it reports, judged once the system is drained.

The checks are what a user of the system would notice, each counted and printed, each a violation
when it is not zero (or, for the broker restarts, when consumers took longer than promised):

- accepted events missing from the stream or from either reports replica's reviews; messages missing
  from the read-only mirrors other systems read (CONTRACT §6); events stored
  twice (the stream, a review's timeline); invalid events accepted, stored or shown;
- decision revisions duplicated or skipped; final decisions that differ from the domain's;
- escalation ids published twice; expected escalations missing (computed by the pure domain from the
  accepted events); escalations fired for obligations met in time, or otherwise not called for by
  the events JetStream held when they fired; published escalations missing from the reviews;
- consumers that did not resume within 30 s of a broker restart.

Each check reads what the streams and the reviews hold after the run and counts what breaks a
promise of RELIABILITY.md into the run's ``Outcome``; kept apart from the running phases
(``chaos.campaign``), which only decide when to judge.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from chaos.expected import Expectation, HeldEvent, called_for, expect, justified_when_fired, met_in_time
from chaos.faults import FaultLog
from chaos.observe import StreamMessage, mirror_sequences, read_stream, reviews
from chaos.outcome import Outcome
from chaos.plan import CampaignPlan
from chaos.sender import SendLog
from chaos.system import ChaosSystem
from chaos.workload import Workload
from majorops.policy.domain.business_days import BusinessCalendar
from majorops.shared import subjects
from majorops.shared.decisions import DecisionContent
from majorops.shared.events import EventValidationError, validate_event

JUSTIFY_MARGIN = timedelta(seconds=2)
"""Reminders checks that its record is complete a moment before it fires: events stored within this
margin before an escalation fired may or may not have been seen."""


async def held_events(js: Any) -> tuple[dict[str, list[HeldEvent]], list[StreamMessage]]:
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


class Checks:
    """The checks of one run, counted into its outcome, and the figures it reports."""

    def __init__(
        self,
        plan: CampaignPlan,
        system: ChaosSystem,
        interval: timedelta,
        calendar: BusinessCalendar,
        outcome: Outcome,
    ) -> None:
        self.plan = plan
        self.system = system
        self.interval = interval
        self.calendar = calendar
        self.outcome = outcome

    async def run(
        self,
        js: Any,
        workload: Workload,
        log: SendLog,
        faults: FaultLog,
        letters: list[dict[str, Any]],
        replayed: list[int],
    ) -> None:
        out = self.outcome
        now = datetime.now(UTC)
        held, messages = await held_events(js)
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
        mirrors = await mirror_sequences(self.system, js)
        out.check(
            "messages missing from other systems' mirrors",
            {
                f"{stream}:{m.seq}"
                for stream, held_there in (
                    (subjects.EVENTS_STREAM, messages),
                    (subjects.DECISIONS_STREAM, decisions),
                )
                for m in held_there
                if m.seq not in mirrors[stream]
            }
            | {
                f"{subjects.ESCALATIONS_STREAM}:{m.seq}"
                for m in [*escalations, *heads_ups]
                if m.seq not in mirrors[subjects.ESCALATIONS_STREAM]
            },
        )
        out.check("accepted events missing from reviews", missing_from_reviews(shown, accepted, incidents))
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
                workload,
                log,
                faults,
                letters,
                final,
                published,
                justified,
                revisions,
                heads_ups,
                held,
                replayed,
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
        replayed: list[int],
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
            "dead_letters_replayed": len(replayed),
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


def missing_from_reviews(
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
