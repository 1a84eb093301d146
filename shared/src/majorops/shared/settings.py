"""Settings every service shares; each service's ``config.py`` extends :class:`CommonSettings`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
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
    timezone: str = Field(
        default="UTC",
        description="The organisation's IANA time zone: business days count there, and an action item "
        "due on a plain date falls due at the end of that day there",
    )
    extra_event_types: str = Field(
        default="", description="Comma-separated event types this deployment added on purpose"
    )

    @field_validator("mongodb_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Berlin, UTC)") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def extra_types(self) -> frozenset[str]:
        """The deployment-added event types, checked (a malformed name stops the service at start)."""
        return parse_extra_event_types(self.extra_event_types.split(","))

    def sqlite_path(self, service: str) -> Path:
        """The embedded store of one service: ``<data_dir>/<service>.sqlite3``."""
        return self.data_dir / f"{service}.sqlite3"


EX_CONFIG = 78
"""Exit status of a service refusing its configuration (sysexits.h): restarting it will not help."""

SettingsT = TypeVar("SettingsT", bound=CommonSettings)


def configuration_problem(exc: ValidationError) -> str:
    """Every invalid setting on one line, named by its environment variable."""
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        variable = f"MAJOROPS_{field.upper()}" if field else "settings"
        problems.append(f"{variable}={error.get('input')!r}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def load_settings(settings_class: type[SettingsT], service: str) -> SettingsT:
    """The service's settings from the environment, or exit 78 with one line saying what is wrong.

    A setting nobody meant (an unknown time zone, a malformed interval or event type) must stop the
    service at once rather than let it compute with a guess.
    """
    try:
        settings = settings_class()
        settings.extra_types  # noqa: B018 - parsed here so that a malformed name also refuses at once
    except ValidationError as exc:
        problem = configuration_problem(exc)
    except ValueError as exc:
        problem = str(exc)
    else:
        return settings
    sys.stderr.write(f"majorops {service}: refusing to start: {problem}\n")
    raise SystemExit(EX_CONFIG)
