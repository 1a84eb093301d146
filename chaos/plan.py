"""How big a campaign is: the full one (``make chaos``) and the shortened one ``make test`` runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CampaignPlan:
    """Sizes and timings of one campaign run. Every figure RELIABILITY.md quotes comes from these."""

    name: str
    incidents: int
    events_per_incident: int
    duplicate_share: float
    """Share of the valid events sent a second time (same id, same content)."""
    invalid_share: float
    """Invalid events per valid event, posted to ingest (HTTP or NATS), each expected to be refused."""
    bypass_invalid: int
    """Invalid envelopes published straight to the events stream (a producer bypassing ingest): every
    consumer must dead-letter them."""
    live_window: tuple[float, float]
    """Seconds after the start within which live deadlines fall due."""
    send_window: float
    """Seconds after the start within which the backdated part of the history is posted."""
    escalation_interval: float
    """MAJOROPS_ESCALATION_INTERVAL in seconds: short, so that levels 2 and 3 fall due during the run."""
    ack_wait: float
    """MAJOROPS_ACK_WAIT_SECONDS of every durable consumer."""
    service_kills: int
    node_kills: int
    cluster_restarts: int
    pauses: int
    pause_seconds: tuple[float, float]
    """How long a SIGSTOP lasts: always longer than the ack wait."""
    store_outage_seconds: float
    kill_window: float
    """Seconds after the start within which the service kills and pauses happen."""
    resume_limit: float = 30.0
    """The promise: after a broker restart, consumers resume within this many seconds."""

    @property
    def valid_events(self) -> int:
        return self.incidents * self.events_per_incident


FULL = CampaignPlan(
    name="full",
    incidents=200,
    events_per_incident=25,
    duplicate_share=0.05,
    invalid_share=0.01,
    bypass_invalid=3,
    live_window=(40.0, 300.0),
    send_window=260.0,
    escalation_interval=45.0,
    ack_wait=10.0,
    service_kills=30,
    node_kills=5,
    cluster_restarts=2,
    pauses=3,
    pause_seconds=(13.0, 20.0),
    store_outage_seconds=30.0,
    kill_window=320.0,
)

SHORT = CampaignPlan(
    name="short",
    incidents=24,
    events_per_incident=25,
    duplicate_share=0.05,
    invalid_share=0.01,
    bypass_invalid=1,
    live_window=(20.0, 50.0),
    send_window=45.0,
    escalation_interval=12.0,
    ack_wait=6.0,
    service_kills=6,
    node_kills=1,
    cluster_restarts=1,
    pauses=1,
    pause_seconds=(8.0, 9.0),
    store_outage_seconds=10.0,
    kill_window=60.0,
)
