"""Ingest settings (env prefix ``MAJOROPS_``)."""

from __future__ import annotations

from pydantic import Field

from majorops.shared.settings import CommonSettings


class IngestSettings(CommonSettings):
    ingest_host: str = "127.0.0.1"
    ingest_port: int = Field(default=8080, ge=0, le=65535)
