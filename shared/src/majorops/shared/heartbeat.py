"""Heartbeats of a process's loops, and the watchdog that ends a process whose loop cannot recover.

Every loop a service depends on — each durable consumer's fetch loop
(:mod:`majorops.shared.consumers`), reminders' scheduler, reports' assembler, policy's decision
sweeper — has a :class:`Heartbeat`: the monotonic time of its last *completed* turn (a fetch that
answered, a pass that did not fail). Its bounds come from the loop's own longest wait
(:func:`bounds_for`):

- older than ``stale_after`` (three of the loop's longest turns, at least
  :data:`MIN_STALE_SECONDS`): the loop is *stalled* — ``/readyz`` answers 503 naming it;
- older than ``fatal_after`` (:data:`FATAL_FACTOR` times that), or the loop's task ended while the
  service runs (an exception nothing caught): the loop *cannot recover* — the :class:`Watchdog`
  logs ``watchdog.exiting`` and ends the process with :data:`EX_SOFTWARE`, for ``majorops up``'s
  supervisor (or Kubernetes) to start a fresh one. Everything the services do survives a
  ``kill -9`` (acknowledged only once stored, idempotent by id), so exiting at once loses nothing.

The watchdog is a thread, not a task: an event loop blocked for good (a call that never returns)
stops every task, the watchdog's too, but not a thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)

MIN_STALE_SECONDS = 30.0
"""No loop is called stalled sooner: a slow store or a NATS reconnection takes seconds."""
STALE_TURNS = 3
"""A loop is stalled when this many of its longest turns passed without one completing."""
FATAL_FACTOR = 2
"""A stalled loop is given up on (the process exits) at this many times its stale bound."""
EX_SOFTWARE = 70
"""The exit status of a process the watchdog ends (``sysexits.h``: internal software error)."""
WATCHDOG_PERIOD_SECONDS = 1.0


def bounds_for(longest_turn_seconds: float) -> tuple[float, float]:
    """``(stale_after, fatal_after)`` of a loop whose healthy turn takes at most ``longest_turn_seconds``."""
    if longest_turn_seconds <= 0:
        raise ValueError(f"a loop's longest turn must be positive: {longest_turn_seconds}")
    stale = max(MIN_STALE_SECONDS, STALE_TURNS * longest_turn_seconds)
    return stale, FATAL_FACTOR * stale


@dataclass
class Heartbeat:
    """One loop's heartbeat; watched from :meth:`watch` (the loop's task) until :meth:`unwatch`."""

    name: str
    stale_after: float
    fatal_after: float
    last: float = field(default_factory=time.monotonic)
    ended: str | None = None
    """Why the watched task ended (while it was still watched), or None while it runs."""
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def of_loop(cls, name: str, longest_turn_seconds: float) -> Heartbeat:
        stale, fatal = bounds_for(longest_turn_seconds)
        return cls(name, stale, fatal)

    def beat(self) -> None:
        """A turn of the loop completed."""
        self.last = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self.last

    def watch(self, task: asyncio.Task[None]) -> asyncio.Task[None]:
        """Watch ``task``, the loop: its end, unless :meth:`unwatch` came first, is a fault."""
        self._task, self.ended = task, None
        self.beat()
        task.add_done_callback(self._task_ended)
        return task

    def unwatch(self) -> None:
        """The loop is being stopped on purpose: it is no longer watched."""
        self._task = None

    @property
    def watched(self) -> bool:
        return self._task is not None

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if task is not self._task:
            return
        error = None if task.cancelled() else task.exception()
        self.ended = f"ended: {type(error).__name__}: {error}" if error else "ended"
        log.error("loop.ended", loop=self.name, error=repr(error) if error else None)

    def problem(self) -> str | None:
        """Why the loop is not healthy (stalled or ended), or None."""
        if not self.watched:
            return None
        if self.ended is not None:
            return self.ended
        age = self.age()
        if age > self.stale_after:
            return f"no turn completed for {age:.0f} s (stalled after {self.stale_after:.0f} s)"
        return None

    def fatal(self) -> str | None:
        """Why the process should end for this loop (ended, or stalled past ``fatal_after``), or None."""
        if not self.watched:
            return None
        if self.ended is not None:
            return self.ended
        age = self.age()
        if age > self.fatal_after:
            return f"no turn completed for {age:.0f} s (given up after {self.fatal_after:.0f} s)"
        return None


@dataclass
class Heartbeats:
    """The heartbeats of one service process (its :class:`~majorops.shared.telemetry.Telemetry`'s)."""

    beats: list[Heartbeat] = field(default_factory=list)

    def add(self, beat: Heartbeat) -> Heartbeat:
        if beat not in self.beats:
            self.beats.append(beat)
        return beat

    def watched(self) -> Iterator[Heartbeat]:
        return (beat for beat in list(self.beats) if beat.watched)

    def problems(self) -> dict[str, str]:
        """Each unhealthy loop by name, with why: what ``/readyz`` shows under ``stalled``."""
        found = {beat.name: beat.problem() for beat in self.watched()}
        return {name: why for name, why in found.items() if why is not None}

    def fatal(self) -> tuple[str, str] | None:
        for beat in self.watched():
            why = beat.fatal()
            if why is not None:
                return beat.name, why
        return None


def _exit_now(status: int) -> None:
    os._exit(status)


class Watchdog:
    """A daemon thread that ends the process (:data:`EX_SOFTWARE`) once a loop cannot recover.

    Started by a service's ``__main__`` only: a test running services inside its own process must
    never be ended by one.
    """

    def __init__(
        self,
        heartbeats: Heartbeats,
        *,
        period: float = WATCHDOG_PERIOD_SECONDS,
        exit_process: Callable[[int], None] = _exit_now,
    ) -> None:
        self.heartbeats = heartbeats
        self.period = period
        self.exit_process = exit_process
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="majorops-watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            fatal = self.heartbeats.fatal()
            if fatal is None:
                continue
            loop, why = fatal
            log.error("watchdog.exiting", loop=loop, reason=why, exit_status=EX_SOFTWARE)
            self.exit_process(EX_SOFTWARE)
            return
