"""Settings every service shares; each service's ``config.py`` extends :class:`CommonSettings`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from majorops.shared.events import parse_extra_event_types


class CommonSettings(BaseSettings):
    """Environment variables with the ``MAJOROPS_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="MAJOROPS_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    mongodb_url: str | None = Field(
        default=None, description="MongoDB URL; unset means the embedded SQLite store in data_dir"
    )
    mongodb_database: str = "majorops"
    data_dir: Path = Path(".majorops")
    log_level: str = "INFO"
    replica: str | None = Field(default=None, description="Name of this replica in logs")
    ack_wait_seconds: float = 30.0
    max_deliver: int = Field(default=5, ge=2)
    max_ack_pending: int = Field(default=256, ge=1)
    retry_delay_seconds: float = Field(default=1.0, ge=0)
    extra_event_types: str = Field(
        default="", description="Comma-separated event types this deployment added on purpose"
    )

    @field_validator("mongodb_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @property
    def extra_types(self) -> frozenset[str]:
        """The deployment-added event types, checked (a malformed name stops the service at start)."""
        return parse_extra_event_types(self.extra_event_types.split(","))

    def sqlite_path(self, service: str) -> Path:
        """The embedded store of one service: ``<data_dir>/<service>.sqlite3``."""
        return self.data_dir / f"{service}.sqlite3"
