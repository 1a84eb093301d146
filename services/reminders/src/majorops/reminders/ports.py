"""What reminders' handlers need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from majorops.reminders.plan import Notice
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.storage.incident_events import IncidentEventStore

Clock = Callable[[], datetime]
"""Now, timezone-aware. Injected so that tests decide what time it is."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DueIncident:
    """An incident the scheduler must look at, and the version of its record it was marked at."""

    incident_id: str
    version: int


@dataclass(frozen=True, slots=True)
class StoredPlan:
    """An incident's obligations as derived at ``version`` of its record, with the next time to look."""

    incident_id: str
    version: int
    next_fire_at: datetime | None
    obligations_json: str
    pending: int
    settings_key: str
    planned_at: datetime


class RemindersStore(IncidentEventStore, Protocol):
    """Reminders' own state. Both adapters (SQLite, MongoDB) behave the same; the store tests run
    against each. Every write is one atomic statement, so replicas sharing the store never need locks.

    - the record: every incident event, and the latest After Action decision per incident;
    - the schedule: per incident, its obligations with their ``next_fire_at`` (indexed) and a
      ``version`` that every event or decision of the incident bumps;
    - the outbox: every escalation and heads-up ever claimed, unique by id, ``pending`` until JetStream
      acknowledged it, then ``published``;
    - webhook outcomes per escalation and target, so a redelivered escalation is not POSTed twice,
      and the highest level of each obligation notified per target, so a lower one never follows it.
    """

    # --- the record -------------------------------------------------------------------------------

    async def save_decision(self, decision: AfterActionDecision) -> bool:
        """Keep the decision if its revision is higher than the stored one's; True when it was kept.

        Decisions may arrive in any order and more than once: the highest revision always wins.
        """
        ...

    async def latest_decision(self, incident_id: str) -> AfterActionDecision | None:
        """The highest-revision decision received for the incident, or None."""
        ...

    # --- the schedule -----------------------------------------------------------------------------

    async def mark_changed(self, incident_id: str, at: datetime) -> None:
        """The incident's record changed: bump its version and make it due at ``at`` (or earlier)."""
        ...

    async def mark_unplanned(self, settings_key: str, at: datetime) -> int:
        """Make due at ``at`` every incident of the record never planned, or planned under other
        settings (another escalation interval or time zone); return how many."""
        ...

    async def incidents_due(self, now: datetime, limit: int) -> list[DueIncident]:
        """Up to ``limit`` incidents whose ``next_fire_at`` is at or before ``now``, earliest first."""
        ...

    async def save_plans(self, plans: Sequence[StoredPlan]) -> set[str]:
        """Store each plan unless its incident changed since (its version moved on); return the
        incidents whose plan was stored. A skipped one stays due, so it is planned again."""
        ...

    async def postpone(self, incident_id: str, version: int, until: datetime) -> None:
        """Look at the incident again at ``until`` (after a failure), unless it changed meanwhile."""
        ...

    async def earliest_fire_at(self) -> datetime | None:
        """The earliest ``next_fire_at`` of any incident: the scheduler sleeps until then."""
        ...

    async def pending_obligations(self) -> int:
        """How many obligations still have a level or heads-up to send."""
        ...

    # --- the outbox -------------------------------------------------------------------------------

    async def claim_notices(
        self, notices: Sequence[Notice], claimed_at: datetime, claimed_by: str
    ) -> set[str]:
        """Insert each notice as ``pending`` unless its id exists; return the ids this call inserted.

        Ids are unique: of two replicas claiming one id, exactly one gets it.
        """
        ...

    async def mark_published(self, notice_ids: Sequence[str], at: datetime) -> None: ...

    async def pending_notices(self, claimed_before: datetime, limit: int) -> list[Notice]:
        """Claimed notices not confirmed published, claimed before ``claimed_before``, oldest first."""
        ...

    async def sent_notice_ids(self, incident_id: str) -> set[str]:
        """Every notice id of the incident ever claimed (pending or published)."""
        ...

    # --- webhook outcomes -------------------------------------------------------------------------

    async def webhook_outcome(self, escalation_id: str, target_key: str) -> str | None:
        """``delivered`` or ``dead_lettered`` once settled, else None."""
        ...

    async def save_webhook_outcome(
        self, escalation_id: str, target_key: str, outcome: str, at: datetime
    ) -> None: ...

    async def claim_webhook_level(
        self, obligation_key: str, target_key: str, level: int, at: datetime
    ) -> bool:
        """Record ``level`` as the level of the obligation (``<incident>:<kind>[:<item>]``) notified to
        the webhook, unless a higher one is recorded; True when recorded (the same level again counts,
        for a redelivered escalation). Atomic, so replicas never notify a lower level after a higher."""
        ...

    async def webhook_level(self, obligation_key: str, target_key: str) -> int | None:
        """The highest level of the obligation recorded for the webhook, or None."""
        ...


class NoticePublisher(Protocol):
    """JetStream, for escalations and heads-ups."""

    async def publish(self, notices: Sequence[Notice]) -> None:
        """Publish each with ``Nats-Msg-Id`` = its id and wait for every ack; raise if any is missing."""
        ...

    async def in_stream(self, notice: Notice) -> bool:
        """Whether the stream already holds a message with this notice's id (on its subject)."""
        ...


class RecordFreshness(Protocol):
    """Whether reminders' record of an incident holds every event and decision JetStream has for it."""

    async def complete(self, incident_ids: Sequence[str]) -> set[str]:
        """The incidents whose every message published so far has been stored (acknowledged)."""
        ...


class WebhookUnreachable(Exception):
    """The webhook could not be reached or did not answer in time (worth retrying)."""


class WebhookSender(Protocol):
    """HTTP, for the webhook notifier."""

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST the body; the HTTP status. Raises :class:`WebhookUnreachable` when there is no answer."""
        ...
