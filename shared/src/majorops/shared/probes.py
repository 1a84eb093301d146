"""``/healthz``, ``/readyz`` and ``/metrics`` for the services without an HTTP API (policy, reminders).

A small Starlette app served by uvicorn in the service's own process and event loop
(:class:`ProbeServer`), on ``MAJOROPS_POLICY_HTTP_PORT`` / ``MAJOROPS_REMINDERS_HTTP_PORT`` (0: no
server). It says nothing about incidents, so like ingest's and reports' probes it is open
(``OPEN_PATHS`` in :mod:`majorops.shared.access`, SECURITY.md): bind it to loopback or a private
network.

- ``/healthz``: 200 while the process runs.
- ``/readyz``: 200 only when NATS is connected, every durable consumer is bound and consuming, every
  loop's heartbeat is fresh (``loops``, :mod:`majorops.shared.heartbeat`) and the store answers; else
  503, with each check by name and each stalled loop with why
  (``{"status": …, "checks": {…}, "stalled": {"consumer policy-events": "no turn completed for 95 s …"}}``).
- ``/metrics``: the service's Prometheus metrics (:mod:`majorops.shared.telemetry`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from majorops.shared.http_telemetry import METRICS_CONTENT_TYPE
from majorops.shared.telemetry import Durable, connected, telemetry_of

if TYPE_CHECKING:
    from faststream.nats import NatsBroker

    from majorops.shared.consumers import DurableConsumer

log = structlog.get_logger(__name__)

READY_TIMEOUT_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 5.0

Checks = Callable[[], Awaitable[dict[str, bool]]]


async def _within(check: Awaitable[bool], what: str) -> bool:
    try:
        return bool(await asyncio.wait_for(check, READY_TIMEOUT_SECONDS))
    except Exception as exc:
        log.warning("readiness.check_failed", check=what, error=f"{type(exc).__name__}: {exc}")
        return False


async def consumer_readiness(
    broker: NatsBroker, consumers: Sequence[DurableConsumer], store_ping: Callable[[], Awaitable[bool]]
) -> dict[str, bool]:
    """Each readiness check by name: ``nats`` connected, ``durables`` all bound and consuming,
    ``loops`` none stalled, ``store`` answering (each within a second)."""
    return {
        "nats": connected(broker),
        "durables": bool(consumers) and all(consumer.bound for consumer in consumers),
        "loops": not telemetry_of(broker).heartbeats.problems(),
        "store": await _within(store_ping(), "store"),
    }


async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


def readiness_responses(checks: str, **properties: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """``/readyz``'s answers as the OpenAPI document declares them: 200 and 503, both a ``status``
    and each check by name (``checks`` says which), with the service's own further ``properties``."""
    schema = {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"enum": ["ready", "not ready"]},
            "checks": {"type": "object", "description": checks, "additionalProperties": {"type": "boolean"}},
            **properties,
        },
    }
    return {
        200: {"description": "Ready", "content": {"application/json": {"schema": schema}}},
        503: {"description": "Not ready", "content": {"application/json": {"schema": schema}}},
    }


def readiness_answer(checks: dict[str, bool], stalled: dict[str, str]) -> JSONResponse:
    """``/readyz``'s answer: 200 when every check passed, else 503; each stalled loop named with why."""
    ok = all(checks.values())
    body: dict[str, Any] = {"status": "ready" if ok else "not ready", "checks": checks}
    if stalled:
        body["stalled"] = stalled
    return JSONResponse(body, status_code=200 if ok else 503)


def probe_app(broker: NatsBroker, checks: Checks, consumers: Sequence[Durable] = ()) -> Starlette:
    """The probes of a broker-only service; ``checks`` answers :func:`consumer_readiness`'s way."""
    telemetry = telemetry_of(broker)

    async def alive(_: Request) -> Response:
        return JSONResponse(await healthz())

    async def readyz(_: Request) -> Response:
        return readiness_answer(await checks(), telemetry.heartbeats.problems())

    async def metrics(_: Request) -> Response:
        return Response(await telemetry.exposition(broker, consumers), media_type=METRICS_CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/healthz", alive, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


class _InLoopServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service's loop already stops on SIGTERM/SIGINT
    (:func:`~majorops.shared.lifecycle.run_until_signalled`) and stops this server after."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ProbeServer:
    """The probe app served on ``host:port`` in the running event loop, from :meth:`start` (the port
    is bound there, so a port in use fails the start with ``OSError``) to :meth:`stop`.

    Started before the service connects: ``/healthz`` answers at once and ``/readyz`` says 503 until
    the service is ready.
    """

    def __init__(self, app: Any, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _InLoopServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"probe HTTP port {self.host}:{self.port}: {exc.strerror}") from exc
        sock.listen(64)
        sock.setblocking(False)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="off", log_level="warning"
        )
        server = _InLoopServer(config)
        self._server, self._socket = server, sock
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name=f"probes:{self.port}")
        while not server.started:
            done, _ = await asyncio.wait({self._task}, timeout=0.01)
            if done:
                break
        if self._task.done():
            self._task.result()  # the server's own error
            raise RuntimeError(f"probe server on {self.url} stopped at start")
        log.info("probes.listening", url=self.url)

    async def stop(self) -> None:
        server, task, sock = self._server, self._task, self._socket
        self._server = self._task = self._socket = None
        if server is not None and task is not None:
            server.should_exit = True
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if sock is not None:
            sock.close()

    async def __aenter__(self) -> ProbeServer:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


@contextlib.asynccontextmanager
async def serving_probes(server: ProbeServer | None) -> AsyncIterator[ProbeServer | None]:
    """Serve the probes for the ``async with`` block (nothing when ``server`` is None: port 0)."""
    if server is None:
        yield None
        return
    async with server:
        yield server
