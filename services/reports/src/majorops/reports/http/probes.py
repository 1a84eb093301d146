"""``/healthz`` and ``/readyz``: open to anyone (the token gate lets them through)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from majorops.reports.http.dependencies import Runtime

router = APIRouter()

READY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"enum": ["ready", "not ready"]},
        "checks": {
            "type": "object",
            "description": "Each check by name: nats, streams, durables, store",
            "additionalProperties": {"type": "boolean"},
        },
    },
}
READINESS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Ready", "content": {"application/json": {"schema": READY_SCHEMA}}},
    503: {"description": "Not ready", "content": {"application/json": {"schema": READY_SCHEMA}}},
}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses=READINESS)
async def readyz(runtime: Runtime) -> JSONResponse:
    """Connected to NATS, the consumed streams exist, every durable consumer is bound and the
    store answers."""
    checks = await runtime.ready()
    ok = all(checks.values())
    body: dict[str, Any] = {"status": "ready" if ok else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)
