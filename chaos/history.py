"""An incident's history while the workload writes it: its events, and when an obligation is met.

The vocabulary the written events draw from (severities and their aliases, people, vendors, services)
and the ways an obligation is met (in time, after a level, never) live here, apart from the incident
profiles (``chaos.incidents``) and the writer that numbers and posts the events (``chaos.workload``),
which both build on them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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
