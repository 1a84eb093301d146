"""What a service's HTTP API tells an operator: ``GET /metrics`` and, for every request,
``majorops_http_requests_total`` and ``majorops_http_request_seconds`` by route template (see
:mod:`majorops.shared.telemetry` for every metric), and the request's trace.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry.trace import SpanKind
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from majorops.shared import tracing

if TYPE_CHECKING:
    from faststream.nats import NatsBroker
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from majorops.shared.telemetry import Durable, Telemetry

METRICS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""Text format 0.0.4: what every Prometheus version reads (the names are all legacy ones)."""
log = structlog.get_logger(__name__)
UNMATCHED_ROUTE = "unmatched"
"""The ``route`` of a request no route matched (a 404): the path itself is never a label."""


class HttpTelemetry:
    """ASGI middleware: ``majorops_http_requests_total`` / ``majorops_http_request_seconds`` by route
    template, and the request's trace.

    Added last, so it wraps everything: a request the token gate refuses is counted too (its route
    found from the router, as the router never saw it). The ``SERVER`` span is FastAPI's own when a
    tracer provider is installed (FastAPI's native OpenTelemetry, which wraps this middleware); else
    this middleware starts a non-recording one from the request's ``traceparent``, so that a trace
    that came in still goes on in what the request publishes.
    """

    def __init__(self, app: ASGIApp, telemetry: Telemetry, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.telemetry = telemetry
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        method = scope["method"]
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            if tracing.current_is_valid():  # FastAPI's span
                await self.app(scope, receive, sending)
            else:
                headers = {
                    k.decode("latin-1"): v.decode("latin-1")
                    for k, v in scope["headers"]
                    if k == b"traceparent"
                }
                span = tracing.TRACER.start_span(
                    method, context=tracing.incoming_context(headers), kind=SpanKind.SERVER
                )
                with tracing.use(span):
                    await self.app(scope, receive, sending)
                span.end()
        finally:
            self.telemetry.http_answered(method, self.route_of(scope), status, time.perf_counter() - began)

    def route_of(self, scope: Scope) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
        from starlette.routing import Match

        for candidate in _route_candidates(self.routes()):
            if candidate.matches(scope)[0] is not Match.NONE:
                found = getattr(candidate, "path", None)
                if isinstance(found, str):
                    return found
        return UNMATCHED_ROUTE


def _route_candidates(routes: Sequence[BaseRoute]) -> Sequence[Any]:
    """The app's routes with FastAPI's included routers opened up: FastAPI keeps an ``APIRouter``
    included with ``include_router`` as one route of the app, whose own routes carry the paths."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # a plain Starlette app
        return routes
    return list(iter_route_contexts(routes))


def metrics_endpoint(
    telemetry: Telemetry, broker: NatsBroker | None, consumers: Sequence[Durable] = ()
) -> Callable[[], Awaitable[Any]]:
    """A Starlette/FastAPI endpoint answering the Prometheus text."""

    async def metrics() -> Any:
        from starlette.responses import Response

        return Response(await telemetry.exposition(broker, consumers), media_type=METRICS_CONTENT_TYPE)

    metrics.__doc__ = "Prometheus metrics of this process (text exposition format)."
    return metrics


METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format 0.0.4",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def instrument_http(
    app: Any, telemetry: Telemetry, broker: NatsBroker | None, consumers: Sequence[Durable] = ()
) -> None:
    """Give a FastAPI app ``GET /metrics`` and :class:`HttpTelemetry` (call it after the app's other
    middleware, so that this one wraps them)."""
    app.add_api_route(
        "/metrics",
        metrics_endpoint(telemetry, broker, consumers),
        methods=["GET"],
        response_model=None,
        responses=METRICS_RESPONSES,
        response_class=_plain_text_response(),
        summary="Metrics",
    )
    app.add_middleware(HttpTelemetry, telemetry=telemetry, routes=lambda: app.router.routes)
    from starlette.requests import ClientDisconnect  # the web framework: only where one serves

    app.add_exception_handler(ClientDisconnect, client_disconnected)


CLIENT_CLOSED_REQUEST = 499
"""The status counted (``majorops_http_requests_total``) for a request whose client left before
sending its whole body (nginx's "client closed request"); nobody receives it."""


def log_client_disconnected(method: str, path: str) -> None:
    log.info(
        "http.client_disconnected",
        method=method,
        path=path,
        detail="the client closed the connection before sending the whole body; nothing was done",
    )


async def client_disconnected(request: Request, _: Exception) -> Response:
    """A client that closes the connection mid-body is the client's business, not a server error:
    one INFO line (an ERROR with a 3 KB traceback each would be a cheap way to fill the log volume)."""
    log_client_disconnected(request.method, request.url.path)
    from starlette.responses import Response

    return Response(status_code=CLIENT_CLOSED_REQUEST)


def _plain_text_response() -> Any:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse
