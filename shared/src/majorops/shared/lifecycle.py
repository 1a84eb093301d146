"""How a service process lives: start, wait for SIGTERM/SIGINT, stop gracefully.

A graceful stop writes no traceback: the cancellations it causes are expected, and a broker that
went away at the same moment (``majorops up`` killed: every child gets SIGTERM at once, nats-server
included) is one warning line, not an error — see :func:`stop_broker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn
from nats.errors import ConnectionClosedError, ConnectionReconnectingError, UnexpectedEOF

from majorops.shared.connecting import stop_consumers
from majorops.shared.settings import HttpTlsSettings

if TYPE_CHECKING:
    from faststream.nats import NatsBroker

    from majorops.shared.consumers import DurableConsumer

log = structlog.get_logger(__name__)

_BROKER_GONE = (ConnectionClosedError, ConnectionReconnectingError, UnexpectedEOF, ConnectionError)


def broker_gone(exc: BaseException) -> bool:
    """True when ``exc`` only says the NATS connection is lost (every one of a group, if a group)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(broker_gone(inner) for inner in exc.exceptions)
    return isinstance(exc, _BROKER_GONE)


async def stop_broker(broker: NatsBroker, consumers: Sequence[DurableConsumer] = ()) -> None:
    """Stop ``consumers``, let the handlers in progress finish, then drain the connection.

    When NATS is already gone — stopped at the same moment, as when ``majorops up`` is killed and
    every child gets SIGTERM at once — there is nothing to drain: the connection is closed instead,
    with one warning line. Nothing is lost: a message whose ack did not reach JetStream is delivered
    again to the next consumer. Any other failure is raised as before.
    """
    # Our own durable consumers first: each settles the batch in hand while NATS is still there.
    await stop_consumers(consumers)
    try:
        await broker.stop()
    except Exception as exc:
        if not broker_gone(exc):
            raise
        log.warning("nats.gone_at_stop", error=f"{type(exc).__name__}: {exc}".rstrip(": "))
        with contextlib.suppress(Exception):
            await broker.connection.close()


async def run_until_signalled(
    service: str,
    start: Callable[[], Coroutine[Any, Any, None]],
    stop: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully; a failed start ends with its error.

    A signal that arrives while the service is still connecting (NATS or the store not up yet)
    gives up connecting instead of hanging until they answer. The handlers stay until ``stop``
    has finished: a second SIGTERM (``majorops up`` killed while it was stopping its children)
    must not cut the drain short by the default action of the signal.
    """
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    watched = (signal.SIGTERM, signal.SIGINT)
    for signum in watched:
        loop.add_signal_handler(signum, stopping.set)
    log.info(f"{service}.starting")
    starting = asyncio.create_task(start())
    signalled = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait((starting, signalled), return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            await signalled
        else:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        log.info(f"{service}.stopping")
    finally:
        signalled.cancel()
        try:
            await stop()
        finally:
            for signum in watched:
                loop.remove_signal_handler(signum)


def serve_http(app: Any, host: str, port: int, tls: HttpTlsSettings | None = None) -> None:
    """Serve an HTTP service's ASGI app until SIGTERM/SIGINT, over HTTPS when ``tls`` names files.

    Logging stays with :func:`majorops.shared.logging.configure_logging` (JSON lines, no access
    log); in-flight requests get 10 s to finish, then the app's lifespan drains NATS.
    """
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        ssl_certfile=str(tls.http_tls_cert) if tls and tls.http_tls_cert else None,
        ssl_keyfile=str(tls.http_tls_key) if tls and tls.http_tls_key else None,
    )
