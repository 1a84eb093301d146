"""The incidents of the workload, one profile each: backdated, rescheduled, live deadlines, minor.

Each profile writes the events of one incident into an ``IncidentHistory`` from the pieces every
incident has (alert, declaration, roles, root cause, vendors, action items, MTM, meetings), drawing
every choice from the workload's seeded generator; kept apart from ``chaos.workload``, which numbers,
pads and posts what they write. The order of the draws is the workload: the same seed must give the
same incidents, so a change here changes every seeded run.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from chaos.history import (
    LIVE_MEET_OPTIONS,
    MEET_OPTIONS,
    PEOPLE,
    SERVICES,
    SEVERITY_FORMS,
    VENDORS,
    IncidentHistory,
    iso,
)
from chaos.plan import CampaignPlan
from majorops.policy.domain.business_days import BusinessCalendar
from majorops.shared.events import due_moment


class IncidentWriter:
    """Writes the events of one incident for each profile of the seeded workload."""

    def __init__(self, plan: CampaignPlan, rng: random.Random, t0: datetime) -> None:
        self.plan = plan
        self.rng = rng
        self.t0 = t0
        self.calendar = BusinessCalendar()
        self.fingerprints = [f"fp-{name}" for name in self._fingerprint_names()]

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
