"""Ingest settings (env prefix ``MAJOROPS_``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from majorops.ingest.domain.mapping_model import WebhookMapping
from majorops.ingest.mapping_files import load_mappings
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
    webhook_mappings_dir: Path | None = Field(
        default=None,
        description="A directory of webhook mappings (<name>.json, docs/webhook-mappings.md), each "
        "serving POST /v1/webhooks/<name> beside the shipped pagerduty and opsgenie ones (a file of the "
        "same name replaces a shipped one); a file that cannot be used stops ingest at start",
    )

    @field_validator("webhook_mappings_dir", mode="before")
    @classmethod
    def _blank_dir_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("ingest_tokens")
    @classmethod
    def _valid_tokens(cls, value: SecretStr) -> SecretStr:
        parse_tokens(value.get_secret_value(), TOKENS_SETTING)
        return value

    @cached_property
    def tokens(self) -> tuple[Token, ...]:
        return parse_tokens(self.ingest_tokens.get_secret_value(), TOKENS_SETTING)

    @cached_property
    def webhook_mappings(self) -> Mapping[str, WebhookMapping]:
        """Every webhook mapping by name, read once (``ValueError`` naming a file that cannot be used)."""
        return load_mappings(self.webhook_mappings_dir, self.extra_types)

    def check_at_start(self) -> None:
        if not self.tokens:
            raise ValueError(
                f"{TOKENS_SETTING} is not set: ingest would refuse every sender. Set name:secret "
                "pairs (`majorops up` generates them into its data dir)"
            )
        self.webhook_mappings  # noqa: B018 - read here so that a mapping that cannot be used refuses at once
