"""Reports: consumes the events, decisions and escalations streams and serves Learning Reviews over HTTP.

This module only wires: the process's clients (:class:`~majorops.reports.runtime.ReportsRuntime`),
the middleware (tokens, strict JSON bodies, telemetry), the problem answers, the OpenAPI document
and the routers of :mod:`majorops.reports.http`, which take their ports through ``Depends``.
"""

from __future__ import annotations

from fastapi import FastAPI

from majorops.reports.config import ReportsSettings
from majorops.reports.http import action_items, probes, reviews
from majorops.reports.http.json_body_guard import JsonBodyGuard
from majorops.reports.http.openapi import document_as_answered
from majorops.reports.http.responses import answer_with_problems
from majorops.reports.ports import Clock, utc_now
from majorops.reports.runtime import ReportsRuntime
from majorops.reports.workbench import workbench_router
from majorops.shared.access import TokenGate
from majorops.shared.http_telemetry import instrument_http

__all__ = ["REALM", "create_app"]

REALM = "majorops-reports"
DESCRIPTION = (
    "Learning Reviews assembled from incident events, After Action decisions and escalations: "
    "read, listed, edited (ETag/If-Match), action items tracked, published. Errors are RFC 9457 "
    "problem documents (application/problem+json)."
)


def create_app(settings: ReportsSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The reports service: ``clock`` is injectable so that tests decide what "now" (overdue) is."""
    runtime = ReportsRuntime(settings or ReportsSettings(), clock)
    app = FastAPI(
        title="MajorOps After Action — reports",
        version="1",
        description=DESCRIPTION,
        lifespan=runtime.lifespan,
        docs_url=None,  # no Swagger UI, no ReDoc: why in SECURITY.md
        redoc_url=None,
    )
    app.state.runtime = runtime
    # Added first, so it runs inside the token gate: only a valid token makes reports read a body.
    app.add_middleware(JsonBodyGuard)
    app.add_middleware(TokenGate, tokens=runtime.settings.tokens, realm=REALM)
    answer_with_problems(app)
    document_as_answered(app)
    app.include_router(reviews.router)
    app.include_router(action_items.router)
    app.include_router(probes.router)
    app.include_router(workbench_router())
    instrument_http(app, runtime.telemetry, runtime.broker)  # GET /metrics; HTTP metrics and spans
    return app
