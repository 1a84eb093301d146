"""Reports settings (env prefix ``MAJOROPS_``)."""

from __future__ import annotations

from functools import cached_property
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator

from majorops.shared.access import Role, Token, parse_tokens
from majorops.shared.settings import CommonSettings, HttpTlsSettings

SERVICE = "reports"

PUBLIC_URL_SETTING = "MAJOROPS_PUBLIC_URL"
READ_TOKENS_SETTING = "MAJOROPS_REPORTS_READ_TOKENS"
WRITE_TOKENS_SETTING = "MAJOROPS_REPORTS_WRITE_TOKENS"


class ReportsSettings(CommonSettings, HttpTlsSettings):
    reports_host: str = Field(default="127.0.0.1", description="Address reports' HTTP API listens on")
    reports_port: int = Field(
        default=8081, ge=0, le=65535, description="Port of reports' HTTP API (/v1/reviews)"
    )
    reports_read_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Who may read reviews and action items: comma-separated name:secret pairs, sent "
        "as 'Authorization: Bearer <secret>'",
    )
    reports_write_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Who may also edit reviews, create and complete action items and publish: "
        "comma-separated name:secret pairs. Required; `majorops up` generates one when unset",
    )
    public_url: str | None = Field(
        default=None,
        description="The address people reach reports at (http(s)://host[:port][/path], e.g. "
        "https://reviews.example.com behind a proxy): the base of the links reports hands out, as the "
        "review's link in a meeting invite. Unset: reports' own listen address "
        "(MAJOROPS_REPORTS_HOST:MAJOROPS_REPORTS_PORT; https with MAJOROPS_HTTP_TLS_CERT); never a "
        "request's Host header",
    )
    assemble_delay_seconds: float = Field(
        default=0.05, ge=0, description="How long the assembler lets a burst of events land before assembling"
    )
    assemble_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often the assembler looks for changes marked by other replicas"
    )

    @field_validator("public_url", mode="before")
    @classmethod
    def _blank_url_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        return None if value is None else public_base(value)

    @property
    def public_base_url(self) -> str:
        """What links to reports start with (no trailing ``/``): :attr:`public_url`, else the
        address reports listens on."""
        if self.public_url is not None:
            return self.public_url
        host = f"[{self.reports_host}]" if ":" in self.reports_host else self.reports_host
        return f"{'https' if self.http_tls_cert else 'http'}://{host}:{self.reports_port}"

    @field_validator("reports_read_tokens")
    @classmethod
    def _valid_read_tokens(cls, value: SecretStr) -> SecretStr:
        parse_tokens(value.get_secret_value(), READ_TOKENS_SETTING)
        return value

    @field_validator("reports_write_tokens")
    @classmethod
    def _valid_write_tokens(cls, value: SecretStr) -> SecretStr:
        parse_tokens(value.get_secret_value(), WRITE_TOKENS_SETTING)
        return value

    @cached_property
    def tokens(self) -> tuple[tuple[Token, Role], ...]:
        """Every token with what it may do; a secret in both lists counts as a write token."""
        read = parse_tokens(self.reports_read_tokens.get_secret_value(), READ_TOKENS_SETTING)
        write = parse_tokens(self.reports_write_tokens.get_secret_value(), WRITE_TOKENS_SETTING)
        return tuple((token, Role.WRITE) for token in write) + tuple((token, Role.READ) for token in read)

    def check_at_start(self) -> None:
        if not any(role is Role.WRITE for _, role in self.tokens):
            raise ValueError(
                f"{WRITE_TOKENS_SETTING} is not set: nobody could edit or publish a review. Set "
                f"name:secret pairs (and {READ_TOKENS_SETTING} for readers; `majorops up` generates both)"
            )

    @property
    def mongodb_reports_database(self) -> str:
        """Reports keeps its own MongoDB database, next to the other services' ones."""
        return f"{self.mongodb_database}_reports"


def public_base(url: str) -> str:
    """``url`` as the base of reports' links, or a ``ValueError`` saying what is wrong with it."""
    parts = urlsplit(url.strip())
    problem = (
        "it is not http:// or https://"
        if parts.scheme not in ("http", "https")
        else "it names no host"
        if not parts.hostname
        else "it carries a user or password"
        if parts.username is not None or parts.password is not None
        else "it has a query or a fragment"
        if parts.query or parts.fragment or url.strip().endswith(("?", "#"))
        else None
    )
    if problem is not None:
        raise ValueError(f"{PUBLIC_URL_SETTING} {url!r} is not a base URL for links: {problem}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
