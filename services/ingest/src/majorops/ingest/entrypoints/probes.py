"""Ingest's ``/healthz`` and ``/readyz``: each check by name, and why JetStream is taken not to
accept writes (:mod:`majorops.ingest.write_health`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from majorops.ingest.write_health import WriteHealth
from majorops.shared.probes import healthz, readiness_responses

READINESS = readiness_responses(
    "Each check by name: nats, streams, writes (JetStream accepts them)",
    writes_failing={"type": "string", "description": "Why JetStream is taken not to accept writes"},
)


def add_probe_routes(
    app: FastAPI, ready: Callable[[], Awaitable[dict[str, bool]]], writes: WriteHealth
) -> None:
    """``/healthz`` and ``/readyz`` (each check by name, and why writes are taken to fail)."""
    app.get("/healthz")(healthz)

    @app.get("/readyz", responses=READINESS)
    async def readyz() -> JSONResponse:
        """Connected to NATS, the events stream exists and JetStream accepts writes: after a publish
        that was not acknowledged, not ready until one is (or for a while, with none since)."""
        checks = await ready()
        ok = all(checks.values())
        body: dict[str, Any] = {"status": "ready" if ok else "not ready", "checks": checks}
        if writes.reason is not None:
            body["writes_failing"] = writes.reason
        return JSONResponse(body, status_code=200 if ok else 503)
