"""The campaign's workload: incidents of 25 events each, backdated and live, posted over a few minutes.

Seeded: the same seed gives the same incidents, the same event ids and times (relative to the start),
the same posting schedule and transports. Every incident has exactly ``events_per_incident`` valid
events. What the incidents exercise:

- **backdated** histories (weeks old): every deadline has passed, so their escalations fire as soon
  as the history is known; each obligation is met in time, between two levels, after the last level,
  or never, so every level of every kind is both fired and rightly held back somewhere;
- **live** deadlines that fall due during the run — ``schedule_by`` (closed 24 h ago), ``hold_by``
  (closed 5 business days ago), action item and vendor RCA dues, the MTM suggestion (declared 2 h
  ago) — met by events posted just before they fall due, between levels, or never;
- **repeats** (root-cause fingerprints shared between incidents, identified at other times),
  **vendors** (engaged, committed, received), **action items** (from ``actionitem.*`` and from
  ``mtm.held``, with RFC 3339 and plain-date dues), severities by alias, late severity raises, and
  meetings rescheduled twice (which moves the draft deadline: a decision that lags behind the events
  must not fire on the old one).

The history of an incident is posted in one burst or in two to five chunks at random moments, each in
a random order (events may arrive late and in any order); live events are posted at their own time.
On top: 5 % of the valid events are sent again (same id and content, often over the other transport),
1 % of invalid events are posted on their own (each must be refused), and a few invalid envelopes are
published straight to the events stream, as a producer bypassing ingest would (every consumer must
dead-letter them).

The profiles are written by ``chaos.incidents`` into the histories of ``chaos.history``; this module
holds what a workload is and the writer that numbers, pads, posts, repeats and spoils their events.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chaos.history import PEOPLE, SERVICES, IncidentHistory, iso
from chaos.incidents import IncidentWriter
from chaos.plan import CampaignPlan
from majorops.shared.events import mtm_item_id


@dataclass
class Post:
    """One request to ingest: a few events, at ``at`` seconds after the start, over ``via``."""

    at: float
    events: list[dict[str, Any]]
    kind: str
    """``history``, ``live``, ``duplicate`` or ``invalid``."""
    via: str
    """``http`` or ``nats``."""


@dataclass
class Workload:
    t0: datetime
    incidents: list[str]
    valid: dict[str, dict[str, Any]]
    """Every valid event by id, as posted."""
    invalid: dict[str, dict[str, Any]]
    """Every invalid event posted to ingest, by id."""
    bypass: list[dict[str, Any]]
    """Invalid envelopes published straight to the events stream."""
    bypass_at: list[float]
    posts: list[Post]
    profiles: Counter[str]
    last_level_at: float
    """Seconds after the start by which every live level has fallen due."""
    duplicates: int = 0

    @property
    def last_post_at(self) -> float:
        return max((p.at for p in self.posts), default=0.0)


class WorkloadWriter:
    """Writes the seeded workload of a campaign."""

    def __init__(self, plan: CampaignPlan, seed: int, t0: datetime) -> None:
        self.plan = plan
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - a seeded workload, not secrets
        self.t0 = t0.replace(microsecond=0)
        self.interval = timedelta(seconds=plan.escalation_interval)
        self.incident_writer = IncidentWriter(plan, self.rng, self.t0)
        self.profiles: Counter[str] = Counter()

    # --- filling, numbering, posting ------------------------------------------------------------------

    def _pad(self, h: IncidentHistory, until: int) -> None:
        rng = self.rng
        past = [e.envelope["time"] for e in h.events if not e.live]
        first = min(past)
        last = max(t for t in past)
        lo = datetime.fromisoformat(first.replace("Z", "+00:00"))
        hi = max(datetime.fromisoformat(last.replace("Z", "+00:00")), lo + timedelta(minutes=30))
        hi = min(hi, self.t0 - timedelta(seconds=5))
        fillers: tuple[tuple[str, Callable[[], dict[str, Any]]], ...] = (
            (
                "timeline.logged",
                lambda: {"text": f"checked {rng.choice(SERVICES)} dashboards", "by": rng.choice(PEOPLE)},
            ),
            ("timeline.logged", lambda: {"text": "rolled back the last deploy", "by": rng.choice(PEOPLE)}),
            (
                "status.posted",
                lambda: {"audience": rng.choice(("public", "internal")), "text": "We are investigating."},
            ),
            ("phase.entered", lambda: {"phase": rng.choice(("triage", "recovery", "validation"))}),
            ("milestone.logged", lambda: {"name": rng.choice(("customer comms sent", "fix deployed"))}),
            (
                "track.opened",
                lambda: {"track": rng.choice(("database", "network")), "lead": rng.choice(PEOPLE)},
            ),
            ("role.assigned", lambda: {"role": "technical_recovery_lead", "person": rng.choice(PEOPLE)}),
        )
        while len(h.events) < until:
            kind, data = rng.choice(fillers)
            at = lo + (hi - lo) * rng.random()
            h.add(kind, at, data())

    def _trim(self, h: IncidentHistory, to: int) -> None:
        while len(h.events) > to:
            optional = [e for e in h.events if e.optional]
            if not optional:
                raise RuntimeError(f"{h.incident_id}: {len(h.events)} events and nothing optional to drop")
            h.events.remove(optional[-1])

    def _number(self, h: IncidentHistory) -> None:
        mtm_id = None
        for n, event in enumerate(h.events, start=1):
            event.envelope["id"] = f"{h.incident_id}-e{n:02d}"
            if event.envelope.pop("__mtm__", False):
                mtm_id = event.envelope["id"]
        for event in h.events:
            if event.envelope["data"].get("item_id") == "__mtm_item__":
                assert mtm_id is not None
                event.envelope["data"]["item_id"] = mtm_item_id(mtm_id, 0)

    def _history_posts(self, h: IncidentHistory, by: float) -> list[Post]:
        rng = self.rng
        history = [e.envelope for e in h.events if not e.live]
        rng.shuffle(history)
        chunks = 1 if rng.random() < 0.4 else rng.randint(2, 5)
        posts = []
        for index in range(chunks):
            part = history[index::chunks]
            if part:
                posts.append(Post(rng.uniform(0.0, by), part, "history", rng.choice(("http", "nats"))))
        return posts

    def _live_posts(self, h: IncidentHistory) -> list[Post]:
        posts = []
        for event in h.events:
            if event.live:
                at = datetime.fromisoformat(event.envelope["time"].replace("Z", "+00:00"))
                posts.append(
                    Post(
                        (at - self.t0).total_seconds(),
                        [event.envelope],
                        "live",
                        self.rng.choice(("http", "nats")),
                    )
                )
        return posts

    def write(self) -> Workload:
        plan, rng, writer = self.plan, self.rng, self.incident_writer
        lo, hi = plan.live_window
        horizon = self.t0 + timedelta(seconds=hi + 1.5 * plan.escalation_interval + 2)
        incidents: list[str] = []
        posts: list[Post] = []
        valid: dict[str, dict[str, Any]] = {}
        profiles = (
            "backdated",
            "rescheduled",
            "live_schedule",
            "live_hold",
            "live_items",
            "live_mtm",
            "live_reschedule",
            "minor",
        )
        weights = (44, 5, 14, 6, 11, 5, 8, 7)
        for index in range(plan.incidents):
            incident = f"CH{self.seed % 100000}-{index + 1:03d}"
            h = IncidentHistory(incident, self.t0, self.interval, rng, horizon)
            profile = profiles[index] if index < len(profiles) else rng.choices(profiles, weights=weights)[0]
            due = self.t0 + timedelta(seconds=round(rng.uniform(lo, hi)))
            send_by = plan.send_window
            if profile == "live_hold" and not writer.live_hold(h, due):
                profile = "live_schedule"
            if profile == "backdated":
                writer.backdated(h)
            elif profile == "rescheduled":
                writer.rescheduled(h)
            elif profile == "live_schedule":
                writer.live_schedule(h, due)
            elif profile == "live_items":
                dues = sorted(self.t0 + timedelta(seconds=round(rng.uniform(lo, hi))) for _ in range(3))
                writer.live_items(h, dues)
                due = dues[0]
            elif profile == "live_mtm":
                writer.live_mtm(h, due)
            elif profile == "live_reschedule":
                writer.live_reschedule(h, due)
            elif profile == "minor":
                writer.minor(h)
            if profile.startswith("live"):
                # The history must be known before the first live deadline falls due.
                send_by = max(1.0, (due - self.t0).total_seconds() - 10.0)
            self.profiles[profile] += 1
            self._trim(h, plan.events_per_incident)
            self._pad(h, plan.events_per_incident)
            self._number(h)
            incidents.append(incident)
            for event in h.events:
                valid[event.envelope["id"]] = event.envelope
            posts += self._history_posts(h, send_by)
            posts += self._live_posts(h)
        duplicates = self._duplicates(posts)
        posts += duplicates
        invalid = self._invalid(incidents)
        for envelope in invalid.values():
            posts.append(
                Post(rng.uniform(0.0, plan.send_window), [envelope], "invalid", rng.choice(("http", "nats")))
            )
        bypass = [self._bypass_envelope(rng.choice(incidents), n) for n in range(plan.bypass_invalid)]
        posts.sort(key=lambda p: p.at)
        return Workload(
            t0=self.t0,
            incidents=incidents,
            valid=valid,
            invalid=invalid,
            bypass=bypass,
            bypass_at=[rng.uniform(0.0, plan.send_window) for _ in bypass],
            posts=posts,
            profiles=self.profiles,
            last_level_at=hi + 2 * plan.escalation_interval,
            duplicates=sum(len(p.events) for p in duplicates),
        )

    def _duplicates(self, posts: list[Post]) -> list[Post]:
        rng = self.rng
        sent = [(post, event) for post in posts for event in post.events]
        chosen = rng.sample(sent, round(len(sent) * self.plan.duplicate_share))
        out: list[Post] = []
        while chosen:
            group = [chosen.pop() for _ in range(min(rng.randint(1, 4), len(chosen)))]
            at = max(post.at for post, _ in group) + rng.uniform(0.2, 40.0)
            via = "nats" if group[0][0].via == "http" and rng.random() < 0.7 else rng.choice(("http", "nats"))
            out.append(Post(at, [event for _, event in group], "duplicate", via))
        return out

    def _invalid(self, incidents: list[str]) -> dict[str, dict[str, Any]]:
        rng = self.rng
        count = max(1, round(self.plan.valid_events * self.plan.invalid_share))
        out: dict[str, dict[str, Any]] = {}
        for n in range(count):
            incident = rng.choice(incidents)
            event_id = f"{incident}-bad{n:02d}"
            at = iso(self.t0 - timedelta(hours=rng.randint(1, 48)))
            base = {
                "specversion": "1.0",
                "id": event_id,
                "source": "chaos/invalid",
                "time": at,
                "subject": incident,
            }
            variant = n % 7
            if variant == 0:
                envelope = {
                    **base,
                    "type": "majorops.incident.declared",
                    "data": {"title": "x", "severity": "urgent"},
                }
            elif variant == 1:
                envelope = {
                    **base,
                    "type": "majorops.incident.declard",
                    "data": {"title": "x", "severity": "high"},
                }
            elif variant == 2:
                envelope = {**base, "type": "majorops.incident.updated", "data": {}}
            elif variant == 3:
                envelope = {**base, "time": at.rstrip("Z"), "type": "majorops.incident.resolved", "data": {}}
            elif variant == 4:
                envelope = {**base, "type": "majorops.timeline.logged", "data": {"text": "x", "$where": "1"}}
            elif variant == 5:
                envelope = {**base, "type": "majorops.actionitem.created", "data": {"item_id": "AI-9"}}
            else:
                envelope = {
                    **base,
                    "type": "majorops.vendor.rca_committed",
                    "data": {"vendor": "Acme", "due": "soon"},
                }
            out[event_id] = envelope
        return out

    def _bypass_envelope(self, incident: str, n: int) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": f"{incident}-bypass{n:02d}",
            "source": "chaos/bypass",
            "type": "majorops.incident.declared",
            "time": iso(self.t0 - timedelta(hours=3)),
            "subject": incident,
            "data": {"title": "forged", "severity": "urgent"},
        }
