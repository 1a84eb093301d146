"""Reports settings (env prefix ``MAJOROPS_``)."""

from __future__ import annotations

from majorops.shared.settings import CommonSettings
from pydantic import Field


class ReportsSettings(CommonSettings):
    reports_host: str = "127.0.0.1"
    reports_port: int = Field(default=8081, ge=0, le=65535)

    @property
    def mongodb_reports_database(self) -> str:
        """Reports keeps its own MongoDB database, next to the other services' ones."""
        return f"{self.mongodb_database}_reports"
