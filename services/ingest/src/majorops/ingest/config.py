"""Ingest settings (env prefix ``MAJOROPS_``)."""

from __future__ import annotations

from pydantic import Field

from majorops.shared.settings import CommonSettings


class IngestSettings(CommonSettings):
    ingest_host: str = Field(default="127.0.0.1", description="Address ingest's HTTP API listens on")
    ingest_port: int = Field(
        default=8080, ge=0, le=65535, description="Port of ingest's HTTP API (/v1/events, Alertmanager)"
    )
