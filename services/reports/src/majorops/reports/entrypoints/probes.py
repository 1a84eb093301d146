"""``/healthz`` and ``/readyz``: open to anyone (the token gate lets them through)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from majorops.reports.entrypoints.dependencies import Runtime
from majorops.shared.probes import healthz, readiness_answer, readiness_responses

router = APIRouter()

READINESS = readiness_responses(
    "Each check by name: nats, streams, durables, loops, store",
    stalled={
        "type": "object",
        "description": "Each stalled or ended loop (a consumer, the assembler) by name, with why",
        "additionalProperties": {"type": "string"},
    },
)
router.get("/healthz")(healthz)


@router.get("/readyz", responses=READINESS)
async def readyz(runtime: Runtime) -> JSONResponse:
    """Connected to NATS, the consumed streams exist, every durable consumer is bound, no loop is
    stalled (each one that is named under ``stalled``) and the store answers."""
    return readiness_answer(await runtime.ready(), runtime.telemetry.heartbeats.problems())
