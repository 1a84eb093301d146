"""Settings every service shares; each service's ``config.py`` extends :class:`CommonSettings`.

Every field is one environment variable, ``MAJOROPS_`` + the field name upper-cased; its
``description`` is what ``majorops <service> --help`` prints (see :func:`setting_docs`), so a field
without one is a setting nobody can find.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from majorops.shared.events import parse_extra_event_types
from majorops.shared.settings_display import SECRET_WORDS

ENV_PREFIX = "MAJOROPS_"
MIB = 1024 * 1024
DEFAULT_LOG_MAX_BYTES = 10 * MIB
DEFAULT_LOG_BACKUPS = 5
MIN_LOG_MAX_BYTES = 1024
MAX_LOG_BACKUPS = 100
_SIZE = re.compile(r"^\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}


def parse_size(value: object) -> object:
    """Bytes from ``10485760``, ``10MiB``, ``512KiB`` or ``1G`` (binary units whatever the spelling)."""
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a size (bytes, or a number with KiB, MiB or GiB)")
        return int(match.group(1)) * _UNITS[match.group(2)[:1].lower()]
    return value


LogMaxBytes = Annotated[
    int,
    BeforeValidator(parse_size),
    Field(
        ge=MIN_LOG_MAX_BYTES,
        description="Size at which a log file is rotated, in bytes or with a KiB, MiB or GiB suffix (10MiB)",
    ),
]
"""``MAJOROPS_LOG_MAX_BYTES``: read by every service (for ``MAJOROPS_LOG_FILE``) and by
``majorops up`` (for the embedded nats-server's log), so one variable bounds every log."""

LogBackups = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_LOG_BACKUPS,
        description="Rotated log files kept next to the current one (<file>.1 is the newest); "
        "0 starts the file over instead",
    ),
]
"""``MAJOROPS_LOG_BACKUPS``: like :data:`LogMaxBytes`, shared by the services and ``majorops up``."""


class CommonSettings(BaseSettings):
    """Environment variables with the ``MAJOROPS_`` prefix."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        description="NATS server with JetStream; the servers of a cluster comma-separated "
        "(nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222)",
    )
    nats_user: str | None = Field(
        default=None,
        description="NATS user to connect as (a service connects as its own: ingest, policy, reminders "
        "or reports; see majorops.shared.nats_access); unset: no user, for a server without users",
    )
    nats_password: SecretStr | None = Field(
        default=None, validate_default=True, description="Password of MAJOROPS_NATS_USER (never logged)"
    )
    stream_replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Copies JetStream keeps of each stream and of ingest's key-value bucket (1-5; 3 on "
        "a 3-node NATS cluster, which then survives the loss of a node): provision creates them so "
        "and updates an existing one to it; more than 1 needs a clustered JetStream with as many servers",
    )
    nats_tls_ca: Path | None = Field(
        default=None,
        description="CA certificate file (PEM) that signed the NATS server's certificate; setting any "
        "MAJOROPS_NATS_TLS_* connects with TLS (the system's CAs when this one is unset)",
    )
    nats_tls_cert: Path | None = Field(
        default=None,
        description="Client certificate file (PEM) for NATS servers that verify clients (mutual TLS); "
        "give MAJOROPS_NATS_TLS_KEY with it",
    )
    nats_tls_key: Path | None = Field(
        default=None, validate_default=True, description="Private key file (PEM) of MAJOROPS_NATS_TLS_CERT"
    )
    mongodb_url: str | None = Field(
        default=None, description="MongoDB URL; unset means the embedded SQLite store in data_dir"
    )
    mongodb_database: str = Field(
        default="majorops", description="MongoDB database (reports adds its own, <name>_reports)"
    )
    data_dir: Path = Field(
        default=Path(".majorops"), description="Directory of the embedded SQLite stores (and of up's logs)"
    )
    log_level: str = Field(
        default="INFO", description="Least severe log level written: DEBUG, INFO, WARNING or ERROR"
    )
    log_file: Path | None = Field(
        default=None,
        description="Write the log to this file, rotated at MAJOROPS_LOG_MAX_BYTES, instead of stderr "
        "(majorops up sets <data_dir>/logs/<service>.log); one process per file",
    )
    log_max_bytes: LogMaxBytes = DEFAULT_LOG_MAX_BYTES
    log_backups: LogBackups = DEFAULT_LOG_BACKUPS
    replica: str | None = Field(default=None, description="Name of this replica in logs")
    ack_wait_seconds: float = Field(
        default=30.0, description="How long JetStream waits for a message's ack before redelivering it"
    )
    max_deliver: int = Field(
        default=5, ge=2, description="Deliveries of a message before it goes to the dead-letter subject"
    )
    max_ack_pending: int = Field(
        default=256, ge=1, description="Messages a consumer may hold unacknowledged, over all replicas"
    )
    retry_delay_seconds: float = Field(
        default=1.0,
        ge=0,
        description="First back-off before a failed message is redelivered; grows each time",
    )
    timezone: str = Field(
        default="UTC",
        description="The organisation's IANA time zone: business days count there, and an action item "
        "due on a plain date falls due at the end of that day there",
    )
    extra_event_types: str = Field(
        default="", description="Comma-separated event types this deployment added on purpose"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OpenTelemetry collector (OTLP over HTTP) to send trace spans to, a base URL such as "
        "http://127.0.0.1:4318 (/v1/traces is appended); unset: the standard OTEL_EXPORTER_OTLP_ENDPOINT "
        "if that is set, else no spans are exported",
    )

    @field_validator("mongodb_url", "otel_exporter_otlp_endpoint")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator(
        "log_file",
        "nats_user",
        "nats_password",
        "nats_tls_ca",
        "nats_tls_cert",
        "nats_tls_key",
        mode="before",
    )
    @classmethod
    def _blank_file_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("nats_tls_ca", "nats_tls_cert", "nats_tls_key")
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("nats_user")
    @classmethod
    def _one_user(cls, value: str | None, info: ValidationInfo) -> str | None:
        url = str(info.data.get("nats_url") or "")
        if value is not None and any("@" in urlsplit(part.strip()).netloc for part in url.split(",")):
            raise ValueError("MAJOROPS_NATS_URL names a user too: give the user one way, not both")
        return value

    @field_validator("nats_password")
    @classmethod
    def _password_of_a_user(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        user = info.data.get("nats_user")
        if user is not None and value is None:
            raise ValueError(f"MAJOROPS_NATS_USER={user!r} needs its password")
        if user is None and value is not None and "nats_user" in info.data:
            raise ValueError("a password without MAJOROPS_NATS_USER: set the user too")
        return value

    @field_validator("nats_tls_key")
    @classmethod
    def _key_with_cert(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if "nats_tls_cert" in info.data and (info.data["nats_tls_cert"] is None) != (value is None):
            raise ValueError("MAJOROPS_NATS_TLS_CERT and MAJOROPS_NATS_TLS_KEY go together: give both")
        return value

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

    def check_at_start(self) -> None:
        """What a service must have to start beyond valid fields (its access tokens): ``ValueError``."""

    def sqlite_path(self, service: str) -> Path:
        """The embedded store of one service: ``<data_dir>/<service>.sqlite3``."""
        return self.data_dir / f"{service}.sqlite3"


class HttpTlsSettings(BaseSettings):
    """HTTPS for a service's own API (ingest, reports): both files or neither."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    http_tls_cert: Path | None = Field(
        default=None, description="PEM certificate (chain) to serve HTTPS with; needs MAJOROPS_HTTP_TLS_KEY"
    )
    http_tls_key: Path | None = Field(default=None, description="PEM private key of MAJOROPS_HTTP_TLS_CERT")

    # Its own name: a service's settings class inherits CommonSettings too, and pydantic keeps one
    # validator of a name (a shared name would leave these fields unchecked: mypy strict says so).
    @field_validator("http_tls_cert", "http_tls_key", mode="before")
    @classmethod
    def _blank_https_file_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _both_or_neither(self) -> HttpTlsSettings:
        given = [p for p in (self.http_tls_cert, self.http_tls_key) if p is not None]
        if len(given) == 1:
            raise ValueError(
                "MAJOROPS_HTTP_TLS_CERT and MAJOROPS_HTTP_TLS_KEY go together: set both or neither"
            )
        for path in given:
            if not path.is_file():
                raise ValueError(f"HTTPS file {path} does not exist")
        return self


EX_CONFIG = 78
"""Exit status of a service refusing its configuration (sysexits.h): restarting it will not help."""

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def configuration_problem(exc: ValidationError) -> str:
    """Every invalid setting on one line, named by its environment variable."""
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if not field:  # a rule across settings: its message names them; the input is every setting
            problems.append(message)
            continue
        given = error.get("input")
        if any(word in field for word in SECRET_WORDS) and given:
            given = "(secret)"  # the message says what is wrong; the value stays out of every log
        problems.append(f"{ENV_PREFIX}{field.upper()}={given!r}: {message}")
    return "; ".join(problems)


def load_settings(settings_class: type[SettingsT], service: str) -> SettingsT:
    """The service's settings from the environment, or exit 78 with one line saying what is wrong.

    A setting nobody meant (an unknown time zone, a malformed interval or event type) must stop the
    service at once rather than let it compute with a guess.
    """
    try:
        settings = settings_class()
        if isinstance(settings, CommonSettings):
            settings.extra_types  # noqa: B018 - parsed here so that a malformed name also refuses at once
            settings.check_at_start()
    except ValidationError as exc:
        problem = configuration_problem(exc)
    except ValueError as exc:
        problem = str(exc)
    else:
        return settings
    sys.stderr.write(f"majorops {service}: refusing to start: {problem}\n")
    raise SystemExit(EX_CONFIG)
