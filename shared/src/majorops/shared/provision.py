"""Creating the streams and ingest's key-value bucket as ``admin``, before the services start.

On a NATS server with users (:mod:`majorops.shared.nats_access`) only ``admin`` may create or update
streams; the services only look them up. ``majorops up`` calls :func:`provision_server` once its
embedded server listens; elsewhere run ``python -m majorops.shared.provision`` with
``MAJOROPS_NATS_URL``, ``MAJOROPS_NATS_USER=admin``, ``MAJOROPS_NATS_PASSWORD`` (and
``MAJOROPS_NATS_TLS_*``). Running it again changes nothing. Exit status 0 done, 2 NATS unreachable
or refusing, 78 a setting that cannot be used.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import nats

from majorops.shared.jetstream import connect_options, provision
from majorops.shared.settings import CommonSettings, load_settings

CONNECT_TIMEOUT_SECONDS = 5


async def provision_at(nats_url: str, **options: Any) -> None:
    """Connect (``options``: ``user``, ``password``, ``tls`` of ``nats.connect``), provision, close."""
    connection = await nats.connect(
        nats_url,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        allow_reconnect=False,
        max_reconnect_attempts=0,
        **options,
    )
    try:
        await provision(connection.jetstream())
    finally:
        await connection.close()


def provision_server(nats_url: str, user: str | None = None, password: str | None = None) -> None:
    """:func:`provision_at` for code that is not async (``majorops up``): as ``user`` (admin)."""
    options: dict[str, Any] = {} if user is None else {"user": user, "password": password}
    asyncio.run(provision_at(nats_url, **options))


def main() -> int:
    settings: CommonSettings = load_settings(CommonSettings, "provision")
    try:
        asyncio.run(provision_at(settings.nats_url, **connect_options(settings)))
    except Exception as exc:
        sys.stderr.write(f"majorops provision: {type(exc).__name__}: {exc}\n")
        return 2
    print("streams and key-value bucket provisioned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
