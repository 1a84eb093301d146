"""Whether JetStream accepts ingest's writes: what ingest's ``/readyz`` says beyond being connected.

A connected NATS with every stream present can still refuse every write: a full disk makes
nats-server mark the stream's store as failed ("Critical write error"), and from then on every
publish to it goes unanswered — until the server is restarted, even after space came back (seen with
nats-server 2.15.1; RELIABILITY.md). So a publish that was not acknowledged makes ingest not ready,
with the reason; a later publish that is acknowledged, or a probe write, makes it ready again. The
probe is a write to ingest's own key-value bucket (one key, overwritten, so it never grows), tried
by ``/readyz`` at most every :data:`PROBE_INTERVAL_SECONDS` while writes are failing: a load
balancer that sends no traffic to an instance that is not ready must not keep it out for good.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse

log = structlog.get_logger(__name__)

PROBE_INTERVAL_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 2.0
PROBE_KEY = "readyz-probe"
"""The probe's key in the accepted-ids bucket: ids are keyed by their SHA-256 (64 hex digits), so
this key is nobody's id."""


class WriteHealth:
    """The outcome of ingest's last write to JetStream, and the probe that checks it again."""

    def __init__(self, probe: Callable[[], Awaitable[object]]) -> None:
        self._probe = probe
        self.failing_since: float | None = None
        self.reason: str | None = None
        self._probed_at = 0.0

    def succeeded(self) -> None:
        if self.failing_since is not None:
            log.info(
                "jetstream.writes_recovered", failed_for_s=round(time.monotonic() - self.failing_since, 1)
            )
        self.failing_since, self.reason = None, None

    def failed(self, reason: str) -> None:
        if self.failing_since is None:
            self.failing_since = time.monotonic()
            log.warning("jetstream.writes_failing", reason=reason)
        self.reason = reason

    async def accepting(self) -> bool:
        """True unless the last write failed and no probe since has succeeded."""
        if self.failing_since is None:
            return True
        now = time.monotonic()
        if now - self._probed_at < PROBE_INTERVAL_SECONDS:
            return False
        self._probed_at = now
        try:
            await asyncio.wait_for(self._probe(), PROBE_TIMEOUT_SECONDS)
        except Exception as exc:
            self.reason = f"probe write failed: {type(exc).__name__}: {exc}".rstrip(": ")
            return False
        self.succeeded()
        return True


def probe_value() -> bytes:
    """What the probe writes: when it wrote (for whoever reads the bucket)."""
    return datetime.now(UTC).isoformat().encode()


READY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"enum": ["ready", "not ready"]},
        "checks": {
            "type": "object",
            "description": "Each check by name: nats, streams, writes (JetStream accepts them)",
            "additionalProperties": {"type": "boolean"},
        },
        "writes_failing": {"type": "string", "description": "Why JetStream is taken not to accept writes"},
    },
}


def add_probe_routes(
    app: FastAPI, ready: Callable[[], Awaitable[dict[str, bool]]], writes: WriteHealth
) -> None:
    """``/healthz`` and ``/readyz`` (each check by name, and why writes are taken to fail)."""
    readiness: dict[int | str, dict[str, Any]] = {
        200: {"description": "Ready", "content": {"application/json": {"schema": READY_SCHEMA}}},
        503: {"description": "Not ready", "content": {"application/json": {"schema": READY_SCHEMA}}},
    }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", responses=readiness)
    async def readyz() -> JSONResponse:
        """Connected to NATS, the events stream exists and JetStream accepts writes: after a publish
        that was not acknowledged, not ready until one is, or a probe write succeeds."""
        checks = await ready()
        ok = all(checks.values())
        body: dict[str, Any] = {"status": "ready" if ok else "not ready", "checks": checks}
        if writes.reason is not None:
            body["writes_failing"] = writes.reason
        return JSONResponse(body, status_code=200 if ok else 503)
