"""Creating the streams and ingest's key-value bucket as ``admin``, before the services start.

On a NATS server with users (:mod:`majorops.shared.nats_access`) only ``admin`` may create or update
streams; the services only look them up. The account of other systems gets a read-only mirror of
each stream, made by its user ``replicator``. ``majorops up`` calls :func:`provision_server` once its
embedded server listens; elsewhere run ``python -m majorops.shared.provision`` with
``MAJOROPS_NATS_URL``, ``MAJOROPS_NATS_USER=admin``, ``MAJOROPS_NATS_PASSWORD``,
``MAJOROPS_NATS_REPLICATOR_PASSWORD`` (and ``MAJOROPS_NATS_TLS_*``), and ``MAJOROPS_STREAM_REPLICAS``
for the copies each stream keeps (3 on a 3-node cluster). Running it again changes nothing; with another replica count it moves every stream
to it. A JetStream that is not ready yet (a cluster electing its leader, a node still joining) is
asked again for up to :data:`WAIT_SECONDS`; a refusal (R3 on a server that is not clustered) is not. Exit status 0 done, 2 NATS unreachable or refusing, 78 a
setting that cannot be used.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import nats
from nats.errors import NoRespondersError
from nats.js.errors import APIError, ServiceUnavailableError
from pydantic import Field, SecretStr

from majorops.shared import nats_access
from majorops.shared.jetstream import ensure_mirrors, provision
from majorops.shared.nats_connection import connect_options, nats_servers
from majorops.shared.settings import CommonSettings, load_settings

CONNECT_TIMEOUT_SECONDS = 5
WAIT_SECONDS = 60.0
"""How long a JetStream that answers "not ready" (no meta leader yet, too few servers for the
replica count while a cluster forms) is asked again before provisioning gives up."""
FORMING_ERROR_CODES = frozenset({10008, 10009, 10023, 10040, 10059})
"""JetStream's answers while a cluster forms: temporarily unavailable, no leader to handle it,
insufficient resources, no suitable peers (yet) for the replicas, and "stream not found" for a
stream just created whose leader is not elected yet (provisioning creates every stream it asks about)."""


def not_ready(exc: BaseException) -> bool:
    """Whether JetStream is still forming (worth asking again), unlike a refusal such as R3 on a
    server that is not clustered (err_code 10074)."""
    if isinstance(exc, ServiceUnavailableError | NoRespondersError | TimeoutError):
        return True
    return isinstance(exc, APIError) and exc.err_code in FORMING_ERROR_CODES


class ProvisionSettings(CommonSettings):
    nats_replicator_password: SecretStr | None = Field(
        default=None,
        description="Password of the NATS user replicator, who makes the read-only mirrors of the "
        "streams in the account of other systems (provisioning only; unset: no mirrors)",
    )


async def provision_at(
    nats_url: str,
    replicas: int = 1,
    wait_seconds: float = WAIT_SECONDS,
    *,
    mirrors: bool = False,
    **options: Any,
) -> None:
    """Connect to any server of ``nats_url`` (comma-separated for a cluster; ``options``: ``user``,
    ``password``, ``tls`` of ``nats.connect``), provision with ``replicas`` copies, close. With
    ``mirrors`` it makes the mirrors of the account of other systems instead (as ``replicator``)."""
    connection = await nats.connect(
        nats_servers(nats_url),
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        allow_reconnect=False,
        max_reconnect_attempts=0,
        **options,
    )
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                if mirrors:
                    await ensure_mirrors(connection.jetstream(), replicas)
                else:
                    await provision(connection.jetstream(), replicas)
                return
            except (APIError, NoRespondersError, TimeoutError) as exc:
                if not not_ready(exc) or time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await connection.close()


async def provision_with_mirrors(
    nats_url: str, replicas: int, replicator_password: str | None, **options: Any
) -> None:
    """The streams and the bucket as the user of ``options`` (admin), then, when ``replicator``'s
    password is given, the mirrors of the account of other systems as ``replicator``."""
    await provision_at(nats_url, replicas, **options)
    if replicator_password is not None:
        mirror_options = {**options, "user": nats_access.REPLICATOR, "password": replicator_password}
        await provision_at(nats_url, replicas, mirrors=True, **mirror_options)


def provision_server(
    nats_url: str,
    user: str | None = None,
    password: str | None = None,
    replicas: int = 1,
    replicator_password: str | None = None,
) -> None:
    """:func:`provision_with_mirrors` for code that is not async (``majorops up``), as ``user`` (admin)."""
    options: dict[str, Any] = {} if user is None else {"user": user, "password": password}
    asyncio.run(provision_with_mirrors(nats_url, replicas, replicator_password, **options))


def main() -> int:
    settings: ProvisionSettings = load_settings(ProvisionSettings, "provision")
    try:
        replicator = settings.nats_replicator_password
        asyncio.run(
            provision_with_mirrors(
                settings.nats_url,
                settings.stream_replicas,
                replicator.get_secret_value() if replicator is not None else None,
                **connect_options(settings),
            )
        )
    except Exception as exc:
        sys.stderr.write(f"majorops provision: {type(exc).__name__}: {exc}\n")
        return 2
    mirrors = (
        ", and their mirrors for other systems"
        if settings.nats_replicator_password is not None
        else " (no mirrors for other systems: MAJOROPS_NATS_REPLICATOR_PASSWORD is not set)"
    )
    print(f"streams and key-value bucket provisioned ({settings.stream_replicas} replicas each){mirrors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
