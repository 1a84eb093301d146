"""What ``majorops up`` itself is configured by: its environment (:class:`UpSettings`, which its
flags override) and the options it runs with (:class:`UpOptions`), each checked at once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from majorops.shared.settings import (
    DEFAULT_LOG_BACKUPS,
    DEFAULT_LOG_MAX_BYTES,
    ENV_PREFIX,
    LogBackups,
    LogMaxBytes,
)

MIB = 1024 * 1024


class UpSettings(BaseSettings):
    """What ``majorops up`` itself reads from the environment (a flag, where there is one, wins).

    Every other ``MAJOROPS_*`` variable is passed on to the services unchanged.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Field(
        default=Path(".majorops"),
        description="Where JetStream, the SQLite stores and the logs live (--data-dir)",
    )
    nats_port: int = Field(
        default=4222, ge=1, le=65535, description="Port of the embedded nats-server (--nats-port)"
    )
    ingest_port: int = Field(default=8080, ge=1, le=65535, description="Ingest's HTTP port (--ingest-port)")
    reports_port: int = Field(default=8081, ge=1, le=65535, description="Reports' HTTP port (--reports-port)")
    nats_url: str | None = Field(
        default=None,
        description="Use this NATS (JetStream enabled) instead of the embedded nats-server (--nats-url)",
    )
    mongodb_url: str | None = Field(
        default=None,
        description="Passed on to the services (MongoDB instead of SQLite); shown without its password",
    )
    nats_sync_interval: str = Field(
        default="always",
        description="JetStream's sync_interval for the embedded nats-server (--nats-sync-interval): "
        "'always' fsyncs every write before acknowledging it (Jepsen: the default loses acknowledged "
        "writes when the OS crashes); 'default' (the server's own, 2 min) or a duration such as 10s "
        "trades that for throughput",
    )
    nats_cluster: int = Field(
        default=1,
        description="Embedded nats-servers (--cluster): 1, or 3 or 5 clustered on loopback (ports "
        "MAJOROPS_NATS_PORT and up, each its own store in the data dir) with every stream replicated "
        "on each (MAJOROPS_STREAM_REPLICAS), so that losing one leaves the system running",
    )
    stream_replicas: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description="Copies of each stream the embedded NATS keeps (and the services are told); unset: "
        "one per server of --cluster",
    )
    log_max_bytes: LogMaxBytes = DEFAULT_LOG_MAX_BYTES
    log_backups: LogBackups = DEFAULT_LOG_BACKUPS

    @field_validator("nats_cluster")
    @classmethod
    def _cluster_size(cls, value: int) -> int:
        return check_cluster_size(value)

    @field_validator("nats_sync_interval")
    @classmethod
    def _sync_interval(cls, value: str) -> str:
        return check_sync_interval(value)

    @field_validator("nats_url", "mongodb_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None


_DURATION = re.compile(r"^[1-9][0-9]*(ms|s|m|h)$")


def check_sync_interval(value: str) -> str:
    """``always``, ``default`` or a positive duration (``500ms``, ``10s``, ``2m``, ``1h``)."""
    text = value.strip()
    if text in ("always", "default") or _DURATION.match(text):
        return text
    raise ValueError(
        f"nats sync interval {value!r}: use 'always', 'default' or a duration such as 10s, 500ms, 2m"
    )


CLUSTER_SIZES = (1, 3, 5)


def check_cluster_size(value: int) -> int:
    """1 (one server), 3 or 5: a cluster needs a majority up, so an even count adds no safety."""
    if value not in CLUSTER_SIZES:
        raise ValueError(f"nats cluster of {value}: use 1 (one server), 3 or 5")
    return value


def show_size(size: int) -> str:
    """``10 MiB``, ``512 KiB`` or bytes: how the logs line says where rotation happens."""
    for unit, factor in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", 1024)):
        if size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


class ConfigurationRefused(Exception):
    """A setting of ``majorops up`` itself is wrong (exit 78: restarting will not help)."""


@dataclass
class UpOptions:
    data_dir: Path
    nats_port: int
    ingest_port: int
    reports_port: int
    nats_url: str | None
    host: str = "127.0.0.1"
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    log_backups: int = DEFAULT_LOG_BACKUPS
    nats_sync_interval: str = "always"
    nats_cluster: int = 1
    stream_replicas: int | None = None
    """None: as many as the embedded cluster has servers (1 for one server)."""
