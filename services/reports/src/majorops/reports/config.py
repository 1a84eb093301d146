"""Reports settings (env prefix ``MAJOROPS_``)."""

from __future__ import annotations

from pydantic import Field

from majorops.shared.settings import CommonSettings


class ReportsSettings(CommonSettings):
    reports_host: str = Field(default="127.0.0.1", description="Address reports' HTTP API listens on")
    reports_port: int = Field(
        default=8081, ge=0, le=65535, description="Port of reports' HTTP API (/v1/reviews)"
    )
    assemble_delay_seconds: float = Field(
        default=0.05, ge=0, description="How long the assembler lets a burst of events land before assembling"
    )
    assemble_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often the assembler looks for changes marked by other replicas"
    )

    @property
    def mongodb_reports_database(self) -> str:
        """Reports keeps its own MongoDB database, next to the other services' ones."""
        return f"{self.mongodb_database}_reports"
