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
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chaos.plan import CampaignPlan
from majorops.policy.domain import BusinessCalendar
from majorops.shared.events import due_moment, mtm_item_id

SEVERITY_FORMS = {
    "critical": ("critical", "P1", "p1"),
    "high": ("high", "P2"),
    "medium": ("medium", "P3"),
    "low": ("low", "p4"),
}
MEET_OPTIONS = ("in_time", "after_l1", "after_l2", "after_l3", "never")
LIVE_MEET_OPTIONS = ("in_time", "after_l1", "after_l2", "never")
PEOPLE = ("Dana Reyes", "@akim", "Lee Park", "@jsilva", "Ravi Menon", "@mkowalski", "Ana Costa")
VENDORS = ("Acme Cloud", "DataPipe", "NetCore")
SERVICES = ("checkout", "payments", "search", "auth", "catalog")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


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


@dataclass
class _Event:
    envelope: dict[str, Any]
    live: bool
    optional: bool


@dataclass
class IncidentHistory:
    """The events of one incident while they are written."""

    incident_id: str
    t0: datetime
    interval: timedelta
    rng: random.Random
    horizon: datetime
    """Events that would happen after this are not written: the run is over by then."""
    events: list[_Event] = field(default_factory=list)

    def add(
        self, kind: str, at: datetime, data: dict[str, Any] | None = None, *, optional: bool = False
    ) -> dict[str, Any]:
        envelope = {
            "specversion": "1.0",
            "id": "",
            "source": self.rng.choice(("pagerduty/prod", "servicenow/prod", "chaos/campaign")),
            "type": f"majorops.{kind}",
            "time": iso(at),
            "subject": self.incident_id,
            "datacontenttype": "application/json",
            "data": data or {},
        }
        if at <= self.horizon:
            self.events.append(_Event(envelope, live=at > self.t0, optional=optional))
        return envelope

    def meet(self, due: datetime, option: str, anchor: datetime, live: bool = False) -> datetime | None:
        """When an event meeting an obligation due at ``due`` happens: in time, between two levels,
        after the last one, or never (None). Never before ``anchor`` (what the obligation hangs on)."""
        interval = self.interval.total_seconds()
        if option == "never":
            return None
        if option == "in_time":
            if live:
                ahead = min(self.rng.uniform(3.0, 12.0), max((due - self.t0).total_seconds() - 4.0, 1.0))
                moment = due - timedelta(seconds=ahead)
            else:
                moment = due - timedelta(seconds=self.rng.uniform(600, 6 * 3600))
            return max(moment, anchor + timedelta(minutes=1))
        offsets = {"after_l1": 0.5, "after_l2": 1.5, "after_l3": 2.5}
        return due + timedelta(seconds=round(offsets[option] * interval) + self.rng.choice((0, 1)))


class WorkloadWriter:
    """Writes the seeded workload of a campaign."""

    def __init__(self, plan: CampaignPlan, seed: int, t0: datetime) -> None:
        self.plan = plan
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - a seeded workload, not secrets
        self.t0 = t0.replace(microsecond=0)
        self.interval = timedelta(seconds=plan.escalation_interval)
        self.calendar = BusinessCalendar()
        self.fingerprints = [f"fp-{name}" for name in self._fingerprint_names()]
        self.profiles: Counter[str] = Counter()

    def _fingerprint_names(self) -> list[str]:
        kinds = (
            "db-pool-exhaustion",
            "cert-expiry",
            "dns-misroute",
            "cache-stampede",
            "disk-full",
            "bad-deploy",
        )
        count = max(4, self.plan.incidents // 8)
        return [f"{kinds[i % len(kinds)]}-{i // len(kinds)}" for i in range(count)]

    # --- the pieces every incident has ---------------------------------------------------------------

    def _severity(self, weights: tuple[int, int, int, int] = (40, 35, 15, 10)) -> str:
        return self.rng.choices(("critical", "high", "medium", "low"), weights=weights)[0]

    def _form(self, severity: str) -> str:
        forms = SEVERITY_FORMS[severity]
        return forms[0] if self.rng.random() < 0.8 else self.rng.choice(forms[1:])

    def _core(
        self,
        h: IncidentHistory,
        start: datetime,
        severity: str,
        *,
        resolved: datetime | None,
        closed: datetime | None,
        raise_to: str | None = None,
    ) -> None:
        rng = self.rng
        service = rng.choice(SERVICES)
        h.add(
            "alert.fired",
            start,
            {
                "alert_name": f"{service.title()}ErrorRate",
                "service": service,
                "customer_count": rng.randint(0, 40),
            },
        )
        h.add("incident.confirmed", start + timedelta(minutes=3), optional=True)
        declared: dict[str, Any] = {
            "title": f"{service} degraded ({h.incident_id})",
            "severity": self._form(severity),
        }
        if rng.random() < 0.5:
            declared["customer_impact"] = rng.random() < 0.6
        h.add("incident.declared", start + timedelta(minutes=6), declared)
        h.add("role.assigned", start + timedelta(minutes=7), {"role": "mim", "person": rng.choice(PEOPLE)})
        h.add(
            "role.assigned",
            start + timedelta(minutes=8),
            {"role": "service_manager", "person": rng.choice(PEOPLE)},
        )
        h.add(
            "role.assigned",
            start + timedelta(minutes=9),
            {"role": "engineering_director", "person": rng.choice(PEOPLE)},
            optional=True,
        )
        if raise_to is not None:
            h.add("incident.updated", start + timedelta(minutes=25), {"severity": self._form(raise_to)})
        if resolved is not None:
            mitigated = start + (resolved - start) * 0.6
            h.add("incident.mitigated", mitigated, optional=True)
            h.add("incident.resolved", resolved)
        if closed is not None:
            h.add("incident.closed", closed)

    def _root_cause(self, h: IncidentHistory, at: datetime, *, unusual: bool = False) -> None:
        fingerprint = (
            self.rng.choice(self.fingerprints)
            if self.rng.random() < 0.75
            else f"fp-unique-{h.incident_id.lower()}"
        )
        h.add(
            "rootcause.identified",
            at + timedelta(seconds=self.rng.randint(0, 3600)),
            {
                "fingerprint": fingerprint,
                "summary": "The incident was caused by a saturated pool",
                "unusual": unusual,
            },
        )

    def _vendor(
        self, h: IncidentHistory, engaged: datetime, closed: datetime, *, rca_due: datetime | None = None
    ) -> None:
        rng = self.rng
        vendor = rng.choice(VENDORS)
        h.add("vendor.engaged", engaged, {"vendor": vendor, "response_sla_minutes": rng.choice((15, 30, 60))})
        h.add(
            "vendor.responded",
            engaged + timedelta(minutes=rng.randint(5, 90)),
            {"vendor": vendor},
            optional=True,
        )
        live = rca_due is not None
        committed = h.meet(closed, rng.choice(MEET_OPTIONS), engaged)
        if committed is None and not live:
            return
        committed_at = committed or closed - timedelta(minutes=30)
        due = rca_due or committed_at + timedelta(days=rng.randint(2, 8))
        h.add("vendor.rca_committed", committed_at, {"vendor": vendor, "due": iso(due)})
        options = LIVE_MEET_OPTIONS if live else MEET_OPTIONS
        received = h.meet(due, rng.choice(options), committed_at, live=live)
        if received is not None:
            h.add("vendor.rca_received", received, {"vendor": vendor, "url": "https://vendor.example/rca"})

    def _action_items(
        self, h: IncidentHistory, created: datetime, *, live_dues: list[datetime] | None = None
    ) -> None:
        rng = self.rng
        count = len(live_dues) if live_dues else rng.randint(1, 2)
        for index in range(count):
            item_id = f"AI-{index + 1}"
            data: dict[str, Any] = {
                "item_id": item_id,
                "title": f"Fix {rng.choice(SERVICES)} alerting",
                "owner": rng.choice(PEOPLE),
            }
            if live_dues:
                due_at = live_dues[index]
                data["due"] = iso(due_at)
            elif rng.random() < 0.25:
                day = (created + timedelta(days=rng.randint(1, 10))).date().isoformat()
                data["due"] = day
                due_at = due_moment(day)
            else:
                due_at = created + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 23))
                data["due"] = iso(due_at)
            h.add("actionitem.created", created + timedelta(minutes=index), data)
            options = LIVE_MEET_OPTIONS if live_dues else MEET_OPTIONS
            done = h.meet(due_at, rng.choice(options), created, live=bool(live_dues))
            if done is not None:
                h.add("actionitem.completed", done, {"item_id": item_id})

    def _mtm(self, h: IncidentHistory, at: datetime) -> None:
        due = at + timedelta(days=self.rng.randint(2, 6))
        mtm = h.add(
            "mtm.held",
            at,
            {
                "notes": "aligned on recovery",
                "action_items": [{"title": "Add pool alarms", "owner": "Lee Park", "due": iso(due)}],
            },
        )
        mtm["__mtm__"] = True  # the id is known only when the event is numbered: see _number
        option = self.rng.choice(MEET_OPTIONS)
        done = h.meet(due, option, at)
        if done is not None:
            h.add("actionitem.completed", done, {"item_id": "__mtm_item__"})

    def _meetings(self, h: IncidentHistory, closed: datetime, severity: str) -> None:
        """Scheduled, draft distributed, held, review published: each in time, late or never."""
        rng = self.rng
        scheduled = h.meet(closed + timedelta(hours=24), rng.choice(MEET_OPTIONS), closed)
        if scheduled is not None:
            meeting = scheduled + timedelta(days=3)
            h.add("afteraction.scheduled", scheduled, {"meeting_at": iso(meeting)})
            drafted = h.meet(meeting - timedelta(hours=48), rng.choice(MEET_OPTIONS), scheduled)
            if drafted is not None:
                h.add("afteraction.draft_distributed", drafted)
        hold_by = self.calendar.add_business_days(closed, 5 if severity == "critical" else 10)
        held = h.meet(hold_by, rng.choice(MEET_OPTIONS), closed)
        if held is not None:
            h.add("afteraction.held", held)
            published = h.meet(held + timedelta(hours=48), rng.choice(MEET_OPTIONS), held)
            if published is not None and published < self.t0 - timedelta(minutes=10):
                h.add("review.published", published)

    # --- profiles ----------------------------------------------------------------------------------

    def backdated(self, h: IncidentHistory) -> None:
        rng = self.rng
        start = self.t0 - timedelta(days=rng.uniform(16, 50))
        severity = self._severity()
        raise_to = "critical" if severity != "critical" and rng.random() < 0.15 else None
        duration = timedelta(minutes=rng.choice((50, 100, 130, 200, 300)))
        resolved = start + duration
        closed = resolved + timedelta(minutes=20)
        self._core(h, start, severity, resolved=resolved, closed=closed, raise_to=raise_to)
        self._root_cause(h, resolved + timedelta(minutes=10), unusual=rng.random() < 0.3)
        final = raise_to or severity
        if rng.random() < 0.3:
            self._vendor(h, start + timedelta(minutes=30), closed)
        if rng.random() < 0.4:
            self._action_items(h, closed + timedelta(hours=2))
        elif final == "critical" and rng.random() < 0.4:
            self._mtm(h, start + timedelta(minutes=70))
        self._meetings(h, closed, final)

    def rescheduled(self, h: IncidentHistory) -> None:
        """A meeting booked weeks ago (its draft deadline long past), then moved twice into next week."""
        rng = self.rng
        start = self.t0 - timedelta(days=rng.uniform(16, 40))
        resolved = start + timedelta(minutes=rng.choice((60, 150)))
        closed = resolved + timedelta(minutes=20)
        self._core(h, start, "critical", resolved=resolved, closed=closed)
        self._root_cause(h, resolved + timedelta(minutes=10))
        scheduled = closed + timedelta(hours=2)
        h.add("afteraction.scheduled", scheduled, {"meeting_at": iso(closed + timedelta(days=3))})
        h.add(
            "afteraction.rescheduled",
            scheduled + timedelta(hours=3),
            {"meeting_at": iso(self.t0 + timedelta(days=5)), "reason": "MIM on leave"},
        )
        h.add(
            "afteraction.rescheduled",
            scheduled + timedelta(hours=4),
            {"meeting_at": iso(self.t0 + timedelta(days=6)), "reason": "vendor unavailable"},
        )

    def live_schedule(self, h: IncidentHistory, due: datetime) -> None:
        """Closed 24 h before ``due``: ``schedule_by`` falls due during the run."""
        rng = self.rng
        closed = due - timedelta(hours=24)
        resolved = closed - timedelta(minutes=20)
        severity = rng.choice(("critical", "critical", "high"))
        start = resolved - timedelta(minutes=200 if severity == "high" else rng.choice((40, 150)))
        self._core(h, start, severity, resolved=resolved, closed=closed)
        self._root_cause(h, resolved + timedelta(minutes=5))
        scheduled = h.meet(due, rng.choice(LIVE_MEET_OPTIONS), closed, live=True)
        if scheduled is not None:
            h.add("afteraction.scheduled", scheduled, {"meeting_at": iso(self.t0 + timedelta(days=4))})

    def live_hold(self, h: IncidentHistory, due: datetime) -> bool:
        """Critical, closed 5 business days before ``due``: ``hold_by`` falls due during the run."""
        closed = due - timedelta(days=7)
        if due.weekday() >= 5 or self.calendar.add_business_days(closed, 5) != due:
            return False
        rng = self.rng
        resolved = closed - timedelta(minutes=20)
        start = resolved - timedelta(minutes=90)
        self._core(h, start, "critical", resolved=resolved, closed=closed)
        self._root_cause(h, resolved + timedelta(minutes=5))
        scheduled = h.meet(closed + timedelta(hours=24), rng.choice(("in_time", "never")), closed)
        if scheduled is not None:
            h.add("afteraction.scheduled", scheduled, {"meeting_at": iso(self.t0 + timedelta(days=2))})
        held = h.meet(due, rng.choice(LIVE_MEET_OPTIONS), closed, live=True)
        if held is not None:
            h.add("afteraction.held", held)
        return True

    def live_reschedule(self, h: IncidentHistory, due: datetime) -> None:
        """A meeting whose draft deadline falls due during the run, moved a week later a few seconds
        before that: the old deadline must not fire, even while policy lags behind the events."""
        rng = self.rng
        start = self.t0 - timedelta(days=rng.uniform(2, 6))
        resolved = start + timedelta(minutes=rng.choice((40, 150)))
        closed = resolved + timedelta(minutes=20)
        self._core(h, start, "critical", resolved=resolved, closed=closed)
        self._root_cause(h, resolved + timedelta(minutes=10))
        h.add(
            "afteraction.scheduled",
            closed + timedelta(hours=2),
            {"meeting_at": iso(due + timedelta(hours=48))},
        )
        moved = h.meet(due, "in_time", closed, live=True)
        assert moved is not None
        h.add(
            "afteraction.rescheduled",
            moved,
            {"meeting_at": iso(due + timedelta(days=7)), "reason": "SME away"},
        )
        if rng.random() < 0.5:
            h.add("afteraction.draft_distributed", moved + timedelta(seconds=1))

    def live_items(self, h: IncidentHistory, dues: list[datetime]) -> None:
        """Action items and a vendor RCA that fall due during the run."""
        rng = self.rng
        start = self.t0 - timedelta(days=rng.uniform(3, 10))
        resolved = start + timedelta(minutes=rng.choice((45, 90)))
        closed = resolved + timedelta(minutes=20)
        self._core(h, start, self._severity((20, 40, 30, 10)), resolved=resolved, closed=closed)
        self._root_cause(h, resolved + timedelta(minutes=5))
        self._action_items(h, closed + timedelta(hours=1), live_dues=dues[:2])
        self._vendor(h, start + timedelta(minutes=20), closed, rca_due=dues[2])

    def live_mtm(self, h: IncidentHistory, due: datetime) -> None:
        """Critical, declared 2 h before ``due`` and still unresolved: the MTM suggestion falls due live."""
        rng = self.rng
        start = due - timedelta(hours=2, minutes=6)
        resolved = h.meet(due, rng.choice(LIVE_MEET_OPTIONS), start, live=True)
        self._core(h, start, "critical", resolved=None, closed=None)
        if resolved is not None:
            h.add("incident.resolved", resolved)
            h.add("incident.closed", resolved + timedelta(seconds=1))

    def minor(self, h: IncidentHistory) -> None:
        rng = self.rng
        start = self.t0 - timedelta(days=rng.uniform(1, 30))
        resolved = start + timedelta(minutes=rng.choice((30, 90, 240)))
        closed = resolved + timedelta(minutes=10) if rng.random() < 0.7 else None
        self._core(h, start, self._severity((0, 0, 60, 40)), resolved=resolved, closed=closed)
        self._root_cause(h, resolved, unusual=rng.random() < 0.5)
        if rng.random() < 0.4:
            self._action_items(h, resolved + timedelta(hours=1))

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
        plan, rng = self.plan, self.rng
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
            if profile == "live_hold" and not self.live_hold(h, due):
                profile = "live_schedule"
            if profile == "backdated":
                self.backdated(h)
            elif profile == "rescheduled":
                self.rescheduled(h)
            elif profile == "live_schedule":
                self.live_schedule(h, due)
            elif profile == "live_items":
                dues = sorted(self.t0 + timedelta(seconds=round(rng.uniform(lo, hi))) for _ in range(3))
                self.live_items(h, dues)
                due = dues[0]
            elif profile == "live_mtm":
                self.live_mtm(h, due)
            elif profile == "live_reschedule":
                self.live_reschedule(h, due)
            elif profile == "minor":
                self.minor(h)
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
