"""Ingest settings (env prefix ``MAJOROPS_``)."""

from __future__ import annotations

from majorops.shared.settings import CommonSettings
from pydantic import Field


class IngestSettings(CommonSettings):
    ingest_host: str = "127.0.0.1"
    ingest_port: int = Field(default=8080, ge=0, le=65535)
    extra_event_types: str = Field(
        default="", description="Comma-separated event types this deployment added on purpose"
    )
