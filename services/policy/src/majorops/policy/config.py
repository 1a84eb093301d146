"""Policy settings (env prefix ``MAJOROPS_``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from majorops.policy.domain.business_days import BusinessCalendar
from majorops.shared.settings import CommonSettings

SERVICE = "policy"


class PolicySettings(CommonSettings):
    """Everything policy reads from the environment beyond the settings every service shares.

    An unknown time zone or holiday code fails validation here, so the service refuses to start
    rather than computing deadlines on a calendar nobody meant.
    """

    holidays: str | None = Field(
        default=None,
        description="Holiday calendar of the 'holidays' package, e.g. US, GB, DE-BY; unset means none "
        "(MAJOROPS_HOLIDAYS)",
    )
    facts_cache_incidents: int = Field(
        default=1024, ge=1, description="Incidents whose folded facts each replica keeps in memory"
    )
    decision_sweep_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often a replica re-publishes decisions left unpublished by a crash or an outage",
    )

    policy_http_host: str = Field(
        default="127.0.0.1", description="Address policy's probes (/healthz, /readyz, /metrics) listen on"
    )
    policy_http_port: int = Field(
        default=8082,
        ge=0,
        le=65535,
        description="Port of policy's probes: /healthz, /readyz (NATS, durable consumer, store) and "
        "/metrics (Prometheus); 0: none served",
    )

    @field_validator("holidays")
    @classmethod
    def _known_holiday_calendar(cls, value: str | None) -> str | None:
        code = (value or "").strip()
        if not code:
            return None
        BusinessCalendar(holidays=code)
        return code

    def business_calendar(self) -> BusinessCalendar:
        """The organisation's working calendar, built once at start."""
        return BusinessCalendar(timezone=self.timezone, holidays=self.holidays)
