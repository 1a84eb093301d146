"""Whether JetStream accepts ingest's writes: what ingest's ``/readyz`` says beyond being connected.

A connected NATS with every stream present can still refuse every write: a full disk makes
nats-server mark the stream's store as failed ("Critical write error"), and from then on every
publish to it goes unanswered — until the server is restarted, even after space came back (seen with
nats-server 2.15.1; RELIABILITY.md). So a publish that was not acknowledged makes ingest not ready,
with the reason, until a publish is acknowledged again — or, with no publish since, for
:data:`HOLD_SECONDS` (a circuit breaker's half-open state): a load balancer that sends nothing to an
instance that is not ready must not keep it out for good, and the next publish decides again.

Why no probe write: nothing cheap proves that *the events stream* stores again. A write to another
stream (ingest's key-value bucket) was seen to succeed on the full disk while the events stream
refused everything (a small write fits in a page its file already has), and a probe message on the
events stream would reach every consumer.
"""

from __future__ import annotations

import time

import structlog

from majorops.shared.jetstream import PUBLISH_TIMEOUT_SECONDS

log = structlog.get_logger(__name__)

HOLD_SECONDS = 6 * PUBLISH_TIMEOUT_SECONDS
"""How long a failed publish keeps ingest not ready when nothing is published since."""


class WriteHealth:
    """The outcome of ingest's last write to JetStream."""

    def __init__(self, hold_seconds: float = HOLD_SECONDS) -> None:
        if hold_seconds <= 0:
            raise ValueError(f"hold_seconds must be positive: {hold_seconds}")
        self.hold_seconds = hold_seconds
        self.failed_at: float | None = None
        self.reason: str | None = None

    def succeeded(self) -> None:
        if self.failed_at is not None:
            log.info("jetstream.writes_recovered")
        self.failed_at, self.reason = None, None

    def failed(self, reason: str) -> None:
        if self.failed_at is None:
            log.warning("jetstream.writes_failing", reason=reason)
        self.failed_at, self.reason = time.monotonic(), reason

    def accepting(self) -> bool:
        """False while the last publish failed, less than :attr:`hold_seconds` ago."""
        if self.failed_at is None:
            return True
        if time.monotonic() - self.failed_at >= self.hold_seconds:
            self.failed_at, self.reason = None, None
            return True
        return False
