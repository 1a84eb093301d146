"""How a service connects to NATS: the servers of ``MAJOROPS_NATS_URL``, its own user and TLS
(``MAJOROPS_NATS_USER``, ``MAJOROPS_NATS_TLS_*``), as nats-py options or as FastStream's broker."""

from __future__ import annotations

import logging
import ssl
from typing import Any

from faststream.nats import NatsBroker, NatsSecurity, NatsUserPassword

from majorops.shared.nats_access import inbox_prefix
from majorops.shared.settings import CommonSettings
from majorops.shared.telemetry import Telemetry, attach_telemetry


def nats_servers(url: str) -> list[str]:
    """The servers of ``MAJOROPS_NATS_URL``: one URL, or several comma-separated (the members of a
    cluster; the client connects to one and moves to another when it goes away)."""
    return [part.strip() for part in url.split(",") if part.strip()]


def tls_context(settings: CommonSettings) -> ssl.SSLContext | None:
    """The TLS context of ``MAJOROPS_NATS_TLS_*``; None when none is set (or a ``tls://`` URL, for
    which nats-py makes a default one itself)."""
    if settings.nats_tls_ca is None and settings.nats_tls_cert is None:
        return None
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(settings.nats_tls_ca) if settings.nats_tls_ca else None
    )
    if settings.nats_tls_cert is not None and settings.nats_tls_key is not None:
        context.load_cert_chain(settings.nats_tls_cert, settings.nats_tls_key)
    return context


def connect_options(settings: CommonSettings) -> dict[str, Any]:
    """``nats.connect`` keyword arguments for the user, password, inbox prefix (a service's own, see
    :func:`~majorops.shared.nats_access.inbox_prefix`) and TLS of the settings."""
    options: dict[str, Any] = {"inbox_prefix": inbox_prefix(settings.nats_user)}
    if settings.nats_user is not None and settings.nats_password is not None:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.get_secret_value()
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
    return options


def broker_security(settings: CommonSettings) -> NatsSecurity | None:
    """FastStream's form of :func:`connect_options`."""
    context = tls_context(settings)
    if settings.nats_user is not None and settings.nats_password is not None:
        return NatsUserPassword(
            settings.nats_user, settings.nats_password.get_secret_value(), ssl_context=context
        )
    if context is not None:
        return NatsSecurity(ssl_context=context)
    return None


def make_broker(settings: CommonSettings, service: str) -> NatsBroker:
    """The service's FastStream broker: reconnects forever, logs through the JSON logging setup,
    and carries the service's :class:`~majorops.shared.telemetry.Telemetry`.

    It connects as ``MAJOROPS_NATS_USER`` (each service has its own, see
    :mod:`majorops.shared.nats_access`) and over TLS when ``MAJOROPS_NATS_TLS_*`` is set, to any of
    the comma-separated servers of ``MAJOROPS_NATS_URL``.
    Per-message "Received/Processed" lines go out at DEBUG; what matters (retries, dead letters,
    failures) is logged by :class:`~majorops.shared.consumers.DurableConsumer` with the incident and event bound.
    """
    broker = NatsBroker(
        nats_servers(settings.nats_url),
        name=f"majorops-{service}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        security=broker_security(settings),
        inbox_prefix=inbox_prefix(settings.nats_user),
        logger=logging.getLogger(f"majorops.{service}.faststream"),
        log_level=logging.DEBUG,
    )
    attach_telemetry(broker, Telemetry(service))  # the service's metrics: telemetry_of(broker)
    return broker
