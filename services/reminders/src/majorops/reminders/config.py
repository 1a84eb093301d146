"""Reminders settings (env prefix ``MAJOROPS_``).

A value that cannot be read (an escalation interval in months, an unknown time zone, a webhook URL
that is not http(s)) stops the service at start with a message naming the variable: a reminder
service that silently runs with a default would escalate at the wrong time, or never.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from majorops.reminders.domain.interval import DEFAULT_ESCALATION_INTERVAL, parse_escalation_interval
from majorops.shared.settings import CommonSettings
from majorops.shared.webhook_signatures import WebhookSecret, parse_secrets

SERVICE = "reminders"


class WebhookStyle(StrEnum):
    """What a webhook receives: the escalation JSON as published, or Slack's ``{"text": …}``."""

    GENERIC = "generic"
    SLACK = "slack"


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """One configured webhook. The URL may carry a secret (Slack's do): logs and dead letters show
    :attr:`shown`, and the store keeps :attr:`key`, never the URL itself."""

    url: str
    style: WebhookStyle

    @property
    def key(self) -> str:
        """A stable, secret-free name for the URL: the first 16 hex digits of its SHA-256."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]

    @property
    def shown(self) -> str:
        """``<style> webhook https://host/…#key``: enough to tell targets apart, no path or query."""
        parts = urlsplit(self.url)
        return f"{self.style} webhook {parts.scheme}://{parts.netloc}/…#{self.key}"


def _url_list(value: str, variable: str) -> str:
    for url in (part.strip() for part in value.split(",")):
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{variable}: {url!r} is not an http(s) URL")
    return value


class RemindersSettings(CommonSettings):
    """Everything reminders reads from the environment beyond the settings every service shares."""

    escalation_interval: timedelta = Field(
        default=DEFAULT_ESCALATION_INTERVAL,
        description="Time between escalation levels: an ISO 8601 duration (PT24H, P1D, PT2S) or seconds",
    )
    scheduler_max_sleep_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest the scheduler sleeps without looking at the store, so that obligations "
        "planned by other replicas are picked up",
    )
    scheduler_batch_size: int = Field(default=256, ge=1, description="Incidents evaluated per scheduler pass")
    outbox_recheck_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often claimed but unconfirmed escalations are checked and published again",
    )
    webhook_urls: str = Field(
        default="", description="Comma-separated URLs that receive each escalation as JSON (POST)"
    )
    slack_webhook_urls: str = Field(
        default="", description='Comma-separated Slack incoming-webhook URLs ({"text": message})'
    )
    webhook_attempts: int = Field(default=5, ge=1, description="Tries per webhook before dead-lettering")
    webhook_retry_seconds: float = Field(
        default=1.0, ge=0, description="First back-off between webhook tries; doubles each time"
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long one webhook POST may take before it counts as failed"
    )
    webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Signs every webhook POST (Standard Webhooks: webhook-id, webhook-timestamp, "
        "webhook-signature): whsec_ + base64 key; comma-separated while rotating (one signature each)",
    )

    reminders_http_host: str = Field(
        default="127.0.0.1", description="Address reminders' probes (/healthz, /readyz, /metrics) listen on"
    )
    reminders_http_port: int = Field(
        default=8083,
        ge=0,
        le=65535,
        description="Port of reminders' probes: /healthz, /readyz (NATS, durable consumers, store) and "
        "/metrics (Prometheus); 0: none served",
    )

    @field_validator("escalation_interval", mode="before")
    @classmethod
    def _readable_interval(cls, value: object) -> timedelta:
        if not isinstance(value, str | int | float | timedelta):
            raise ValueError(f"escalation interval {value!r} is not a duration")
        return parse_escalation_interval(value)

    @field_validator("webhook_urls")
    @classmethod
    def _webhook_urls(cls, value: str) -> str:
        return _url_list(value, "MAJOROPS_WEBHOOK_URLS")

    @field_validator("slack_webhook_urls")
    @classmethod
    def _slack_webhook_urls(cls, value: str) -> str:
        return _url_list(value, "MAJOROPS_SLACK_WEBHOOK_URLS")

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr) -> SecretStr:
        try:
            parse_secrets(value.get_secret_value())
        except ValueError as exc:
            raise ValueError(f"MAJOROPS_WEBHOOK_SECRET: {exc}") from None
        return value

    @property
    def webhook_secrets(self) -> tuple[WebhookSecret, ...]:
        """The signing keys, newest first as configured; none when webhooks are not signed."""
        return parse_secrets(self.webhook_secret.get_secret_value())

    @property
    def webhook_targets(self) -> tuple[WebhookTarget, ...]:
        """Every configured webhook, generic ones first, each URL once."""
        targets: dict[str, WebhookTarget] = {}
        for raw, style in (
            (self.webhook_urls, WebhookStyle.GENERIC),
            (self.slack_webhook_urls, WebhookStyle.SLACK),
        ):
            for url in (part.strip() for part in raw.split(",")):
                if url and url not in targets:
                    targets[url] = WebhookTarget(url, style)
        return tuple(targets.values())
