"""``/healthz`` and ``/readyz``: open to anyone (the token gate lets them through)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from majorops.reports.http.dependencies import Runtime
from majorops.shared.probes import readiness_answer

router = APIRouter()

READY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"enum": ["ready", "not ready"]},
        "checks": {
            "type": "object",
            "description": "Each check by name: nats, streams, durables, loops, store",
            "additionalProperties": {"type": "boolean"},
        },
        "stalled": {
            "type": "object",
            "description": "Each stalled or ended loop (a consumer, the assembler) by name, with why",
            "additionalProperties": {"type": "string"},
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
    """Connected to NATS, the consumed streams exist, every durable consumer is bound, no loop is
    stalled (each one that is named under ``stalled``) and the store answers."""
    return readiness_answer(await runtime.ready(), runtime.telemetry.heartbeats.problems())
