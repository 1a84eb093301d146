"""``majorops up`` heals a nats-server that runs but whose JetStream no longer stores anything.

What a full disk does to nats-server 2.15.1 (the wheel's; reproduced by ``tests/test_disk_full.py``):
the first write that fails logs ``Filestore [<stream>] Critical write error: … no space left on
device`` and marks that stream's store as failed. The process keeps running, JetStream stays
enabled (``/healthz?js-enabled-only=true`` answers 200), but every later publish to that stream goes
unanswered (the client times out) and the server's own ``/healthz`` answers 503 with
``JetStream stream '<account> > <stream>' write error: …`` — and both stay so after space came
back: only a restart of the server (which recovers the stream from its files) clears it.

So the supervisor asks every node's ``/healthz`` every :data:`CHECK_PERIOD_SECONDS`; a node whose
JetStream is disabled, or which reports a write error, for :data:`HEAL_AFTER_SECONDS` in a row is
restarted — once its store's filesystem has :data:`MIN_FREE_BYTES` free again (restarting onto a
still-full disk would only fail again), and at most every :data:`MIN_RESTART_INTERVAL_SECONDS`.
A node that is merely catching up in a cluster (``/healthz`` 503 for other reasons) is left alone.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from majorops.cli.natsserver import NatsServer

CHECK_PERIOD_SECONDS = 2.0
HEAL_AFTER_SECONDS = 5.0
MIN_FREE_BYTES = 4 * 1024 * 1024
MIN_RESTART_INTERVAL_SECONDS = 20.0
HEALTHZ_TIMEOUT_SECONDS = 2.0
WRITE_ERROR = "write error"
"""What nats-server's ``/healthz`` says of a stream (or consumer) whose store failed."""


def _healthz(url: str) -> tuple[int, str]:
    """The status and error text of a ``/healthz`` answer (0: no answer)."""
    try:
        with urllib.request.urlopen(url, timeout=HEALTHZ_TIMEOUT_SECONDS) as answer:  # noqa: S310
            return int(answer.status), ""
    except urllib.error.HTTPError as refused:
        text = refused.read().decode("utf-8", errors="replace")
        try:
            return refused.code, str(json.loads(text).get("error") or text)
        except (ValueError, AttributeError):
            return refused.code, text
    except (urllib.error.URLError, OSError):
        return 0, ""


def jetstream_broken(node: NatsServer) -> str | None:
    """Why the node's JetStream cannot store (disabled, or a store write error), or None."""
    if node.monitor_url is None or not node.alive():
        return None
    status, error = _healthz(f"{node.monitor_url}/healthz?js-enabled-only=true")
    if status not in (0, 200):
        return f"JetStream disabled: {error}"
    status, error = _healthz(f"{node.monitor_url}/healthz")
    if status not in (0, 200) and WRITE_ERROR in error:
        return error
    return None


def free_bytes(node: NatsServer) -> int:
    try:
        return shutil.disk_usage(node.data_dir / node.store_name).free
    except OSError:
        return 0


@dataclass
class JetStreamHealer:
    """Restarts the nodes whose JetStream stopped storing (see the module's documentation)."""

    say: Callable[[str], None]
    broken_since: dict[str, float] = field(default_factory=dict)
    restarted_at: dict[str, float] = field(default_factory=dict)
    waiting_for_space: set[str] = field(default_factory=set)
    _checked_at: float = 0.0

    def check(self, nodes: Sequence[NatsServer]) -> list[NatsServer]:
        """The nodes restarted now (each said why)."""
        now = time.monotonic()
        if now - self._checked_at < CHECK_PERIOD_SECONDS:
            return []
        self._checked_at = now
        healed = []
        for node in nodes:
            name = node.label
            why = jetstream_broken(node)
            if why is None:
                self.broken_since.pop(name, None)
                self.waiting_for_space.discard(name)
                continue
            since = self.broken_since.setdefault(name, now)
            if now - since < HEAL_AFTER_SECONDS:
                continue
            if (
                now - self.restarted_at.get(name, -MIN_RESTART_INTERVAL_SECONDS)
                < MIN_RESTART_INTERVAL_SECONDS
            ):
                continue
            if free_bytes(node) < MIN_FREE_BYTES:
                if name not in self.waiting_for_space:
                    self.waiting_for_space.add(name)
                    self.say(f"{name}: JetStream cannot store ({why}); waiting for free space to restart it")
                continue
            self.say(f"{name}: JetStream cannot store ({why}); restarting it")
            self.restarted_at[name] = now
            self.broken_since.pop(name, None)
            self.waiting_for_space.discard(name)
            node.stop()
            try:
                node.start()
            except (RuntimeError, TimeoutError) as exc:  # left to the supervisor's restart of an exited node
                self.say(f"{name} did not start again: {exc}")
                continue
            self.say(f"{name} restarted, pid {node.process.pid if node.process else '?'}")
            healed.append(node)
        return healed
