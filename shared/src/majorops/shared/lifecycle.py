"""How a service process lives: start, wait for SIGTERM/SIGINT, stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
import uvicorn

log = structlog.get_logger(__name__)


async def run_until_signalled(
    service: str,
    start: Callable[[], Coroutine[Any, Any, None]],
    stop: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully; a failed start ends with its error.

    A signal that arrives while the service is still connecting (NATS or the store not up yet)
    gives up connecting instead of hanging until they answer.
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
        for signum in watched:
            loop.remove_signal_handler(signum)
        await stop()


def serve_http(app: Any, host: str, port: int) -> None:
    """Serve an HTTP service's ASGI app until SIGTERM/SIGINT.

    Logging stays with :func:`majorops.shared.logging.configure_logging` (JSON lines, no access
    log); in-flight requests get 10 s to finish, then the app's lifespan drains NATS.
    """
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=10)
