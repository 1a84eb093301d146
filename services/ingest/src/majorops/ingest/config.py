"""Ingest settings (env prefix ``MAJOROPS_``)."""

from __future__ import annotations

from functools import cached_property

from pydantic import Field, SecretStr, field_validator

from majorops.shared.access import Token, parse_tokens
from majorops.shared.settings import CommonSettings, HttpTlsSettings

TOKENS_SETTING = "MAJOROPS_INGEST_TOKENS"


class IngestSettings(CommonSettings, HttpTlsSettings):
    ingest_host: str = Field(default="127.0.0.1", description="Address ingest's HTTP API listens on")
    ingest_port: int = Field(
        default=8080, ge=0, le=65535, description="Port of ingest's HTTP API (/v1/events, Alertmanager)"
    )
    ingest_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Who may send events and webhooks: comma-separated name:secret pairs (a name may "
        "have several secrets while rotating); sent as 'Authorization: Bearer <secret>' or as the key "
        "of a signed request. Required; `majorops up` generates one when unset",
    )

    @field_validator("ingest_tokens")
    @classmethod
    def _valid_tokens(cls, value: SecretStr) -> SecretStr:
        parse_tokens(value.get_secret_value(), TOKENS_SETTING)
        return value

    @cached_property
    def tokens(self) -> tuple[Token, ...]:
        return parse_tokens(self.ingest_tokens.get_secret_value(), TOKENS_SETTING)

    def check_at_start(self) -> None:
        if not self.tokens:
            raise ValueError(
                f"{TOKENS_SETTING} is not set: ingest would refuse every sender. Set name:secret "
                "pairs (`majorops up` generates them into its data dir)"
            )
