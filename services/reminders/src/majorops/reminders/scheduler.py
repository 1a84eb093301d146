"""The durable escalation scheduler: fires each level at its time, exactly once, across restarts and replicas.

How it works
------------
*The timers are rows.* Each incident has one row in the store with its obligations and an indexed
``next_fire_at``: the earliest level or heads-up of it that is not sent yet and fires on the events
known so far. Every event or decision of the incident bumps the row's ``version`` and makes it due
now; the scheduler then re-derives the obligations from the stored record (coalescing a burst of
messages into one planning) and stores the new ``next_fire_at`` — only if the version did not move on
meanwhile (optimistic concurrency, so a slow replica never overwrites a newer plan with an older one).

*The loop sleeps until the earliest* ``next_fire_at`` (one indexed query), woken early when a message
arrives, and at most ``scheduler_max_sleep_seconds`` (30 s) so rows planned by other replicas are
picked up. No polling in between: an idle service with 100,000 pending obligations does nothing until
one is due. Levels that came due while the service was down are due at start and fire at once.

*Exactly once per id.* A due level is claimed before it is published: inserted into the outbox with
its id as the unique key (the payload with its ``fired_at`` is stored with it). Of two replicas
claiming the same id, the insert of exactly one succeeds, and only that one publishes. It publishes
with ``Nats-Msg-Id`` = the id and waits for JetStream's ack, then marks the row ``published``. A crash
(or kill -9) between claim and mark leaves the row ``pending``; at start and every
``outbox_recheck_seconds`` every replica publishes the pending rows again. Inside JetStream's
two-minute duplicate window a second copy is dropped by the server; because a pending row can be
older than that (a long outage), the stream is first searched for the id (direct gets over the
notice's subject, a handful of messages), and a row found there is only marked. The remaining risk is
a stream with limits that already removed the original message (none are configured), in which case
the escalation would be published a second time rather than never.

*Met in time never fires.* Right before claiming, the scheduler checks that reminders' durable
consumers have acknowledged every event and decision JetStream holds for the incident (their ack floor
is past the incident's last message) and that policy has decided on every one of those events (its
durable's ack floor too: a decision lagging behind the events must not fire a deadline they moved),
then re-reads the record and re-derives the plan: a level fires
only if no meeting event has a time at or before the level's time. So a history replayed in one burst
fires exactly what would have fired live (the events are all stored before anything is claimed).
What the record cannot know is an event that has not reached JetStream yet; a level already published
stays published.

Why not JetStream message scheduling (``Nats-Schedule``, ADR-51, nats-server ≥ 2.12)
-------------------------------------------------------------------------------------
The server would publish a pre-built message at its time without asking anyone: cancelling a level
when its obligation is met means deleting or replacing the scheduled message in time, and a meeting
event processed a little late (consumer lag, a replay burst, a restart) could not stop a level the
event-time rule says must not fire. The payload would also be frozen when scheduled (``fired_at``,
the person to notify). It needs ``allow_msg_schedules`` on the stream (the shared stream setup does
not set it, and deployments on an older NATS could not run reminders), and nats-py has no API for
it. Our own timer rows keep the decision where the record is, re-checked at fire time; the store
also shows every pending obligation and when it fires next.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog

from majorops.reminders.handlers import EscalationPolicy, PassOutcome, fire_due, publish_pending
from majorops.reminders.ports import Clock, NoticePublisher, RecordFreshness, RemindersStore, utc_now
from majorops.shared.heartbeat import Heartbeat

log = structlog.get_logger(__name__)

MAX_FAILURE_DELAY_SECONDS = 30.0
OUTBOX_GRACE = timedelta(seconds=5)
MAX_SETTLE_SECONDS = 2.0
"""The longest a message-triggered pass waits for a burst to settle because the last pass was slow."""


class EscalationScheduler:
    """The timer loop of one replica; every replica runs one, all sharing the store."""

    def __init__(
        self,
        store: RemindersStore,
        publisher: NoticePublisher,
        freshness: RecordFreshness,
        policy: EscalationPolicy,
        *,
        replica: str,
        clock: Clock = utc_now,
        max_sleep_seconds: float = 30.0,
        batch_size: int = 256,
        outbox_recheck_seconds: float = 10.0,
        waiting_retry_seconds: float = 0.1,
        settle_seconds: float = 0.01,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.freshness = freshness
        self.policy = policy
        self.replica = replica
        self.clock = clock
        self.max_sleep_seconds = max_sleep_seconds
        self.batch_size = batch_size
        self.outbox_recheck_seconds = outbox_recheck_seconds
        self.waiting_retry_seconds = waiting_retry_seconds
        self.settle_seconds = settle_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # A turn sleeps at most max_sleep_seconds, lets a burst settle, then passes; a failed pass is
        # no turn. Stalled or ended: /readyz says so and the watchdog ends the process.
        self.heartbeat = Heartbeat.of_loop("reminders scheduler", max_sleep_seconds + MAX_SETTLE_SECONDS)

    def rearm(self) -> None:
        """An incident changed (its row is due now): look at the store again at once."""
        self._wake.set()

    async def start(self) -> None:
        """Plan what was never planned under these settings, then run the loop in the background."""
        marked = await self.store.mark_unplanned(self.policy.settings_key, self.clock())
        if marked:
            log.info("scheduler.replanning", incidents=marked)
        self._stopping = False
        self._task = self.heartbeat.watch(asyncio.create_task(self._run(), name="reminders-scheduler"))

    async def stop(self, timeout: float = 10.0) -> None:
        """Let the current pass finish (a claimed notice is published or left pending), then stop."""
        self._stopping = True
        self._wake.set()
        self.heartbeat.unwatch()
        if self._task is None:
            return
        task, self._task = self._task, None
        try:
            await asyncio.wait_for(task, timeout)
        except TimeoutError:
            log.warning("scheduler.stop_timeout")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def fire_all_due(self) -> PassOutcome:
        """Passes until fewer than a full batch of incidents is due; the last pass's outcome, summed."""
        total = PassOutcome()
        while True:
            outcome = await fire_due(
                self.store,
                self.publisher,
                self.freshness,
                self.policy,
                clock=self.clock,
                limit=self.batch_size,
                replica=self.replica,
            )
            total.incidents += outcome.incidents
            total.claimed.extend(outcome.claimed)
            total.published += outcome.published
            total.waiting.extend(outcome.waiting)
            total.failed.extend(outcome.failed)
            total.publish_failed = total.publish_failed or outcome.publish_failed
            # Incidents waiting for their record stay due: another pass now would only find them again.
            if outcome.incidents < self.batch_size or outcome.waiting or self._stopping:
                return total
            await asyncio.sleep(0)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_recheck = loop.time()
        # At start, what a previous run left pending is published at once; later, a claim gets a few
        # seconds to be published by the replica that made it before another one steps in.
        grace = timedelta(0)
        failures = 0
        log.info("scheduler.started", interval_s=self.policy.interval.total_seconds())
        last_pass = 0.0
        while not self._stopping:
            self._wake.clear()
            began = loop.time()
            try:
                if loop.time() >= next_recheck:
                    await publish_pending(self.store, self.publisher, clock=self.clock, older_than=grace)
                    grace = OUTBOX_GRACE
                    next_recheck = loop.time() + self.outbox_recheck_seconds
                outcome = await self.fire_all_due()
                wake_at = await self.store.earliest_fire_at()
            except Exception:
                failures += 1
                delay = min(0.5 * 2**failures, MAX_FAILURE_DELAY_SECONDS)
                log.exception("scheduler.pass_failed", retry_in_s=delay)
                await self._sleep(delay)
                continue
            failures = 0
            self.heartbeat.beat()
            # Only a pass that sent nothing and waits for nothing counts as "planning only": after one
            # that sent, or found an incident waiting for its record, the next pass must not wait.
            planning_only = not (outcome.claimed or outcome.waiting or outcome.publish_failed)
            last_pass = min(loop.time() - began, MAX_SETTLE_SECONDS) if planning_only else 0.0
            delay = self.max_sleep_seconds
            if wake_at is not None:
                # A millisecond past the due time, so that the level is due when we look.
                delay = min(delay, (wake_at - self.clock()).total_seconds() + 0.001)
            if outcome.waiting:
                # The earliest row is the waiting incident's own past due time: try it again shortly,
                # not at once, or the loop would spin until reminders' consumers catch up.
                delay = self.waiting_retry_seconds if delay <= 0 else min(delay, self.waiting_retry_seconds)
            if outcome.publish_failed:
                next_recheck = min(next_recheck, loop.time() + 1.0)
            delay = min(delay, next_recheck - loop.time())
            if delay > 0 and await self._sleep(delay) and not self._stopping:
                # Woken by a message: let the rest of a burst land, to plan the incident once for it —
                # at least as long as the last pass took, so that a stream of events into big
                # incidents (each planning reads the whole record) costs at most about half the time.
                await asyncio.sleep(max(self.settle_seconds, last_pass))
        log.info("scheduler.stopped")

    async def _sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when woken early by :meth:`rearm` (or stop)."""
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            return False
        return True
