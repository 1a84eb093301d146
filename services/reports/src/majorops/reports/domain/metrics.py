"""Key metrics of the Learning Review, derived from the timeline (CONTRACT §5, seed "Timeline").

| metric            | from                    | to                     |
|-------------------|-------------------------|------------------------|
| ``ttd``           | first ``alert.fired``   | ``incident.confirmed`` |
| ``time_to_declare`` | ``incident.confirmed`` | ``incident.declared``  |
| ``mttm``          | ``incident.declared``   | ``incident.mitigated`` |
| ``mttr``          | ``incident.declared``   | ``incident.resolved``  |

Each end point is the *earliest* event of its type, as the shared read model reads it, so the
result depends only on the set of events, never on their order. A metric is ``None`` when either end point is missing from the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from majorops.reports.domain.timeline import Readable, as_incident


class Metrics(BaseModel):
    """Durations in whole seconds; ``None`` when an input is missing.

    A negative value means the record's order is inverted (e.g. the incident was confirmed before
    its first alert fired); it is kept as is so that the inconsistency shows instead of hiding.
    """

    model_config = ConfigDict(frozen=True)

    ttd_seconds: int | None = None
    time_to_declare_seconds: int | None = None
    mttm_seconds: int | None = None
    mttr_seconds: int | None = None


def seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    """``end − start`` in whole seconds (truncated toward zero), ``None`` when either is missing."""
    if start is None or end is None:
        return None
    return int((end - start).total_seconds())


def compute_metrics(record: Readable) -> Metrics:
    """TTD, time to declare, MTTM and MTTR of one incident (CONTRACT §5)."""
    incident = as_incident(record)
    return Metrics(
        ttd_seconds=seconds_between(incident.alerted_at, incident.confirmed_at),
        time_to_declare_seconds=seconds_between(incident.confirmed_at, incident.declared_at),
        mttm_seconds=seconds_between(incident.declared_at, incident.mitigated_at),
        mttr_seconds=seconds_between(incident.declared_at, incident.resolved_at),
    )


@dataclass(frozen=True)
class MetricDefinition:
    """How the review presents one metric (the seed's "Key metrics derived from the timeline")."""

    field: str
    name: str
    definition: str


METRIC_DEFINITIONS: tuple[MetricDefinition, ...] = (
    MetricDefinition("ttd_seconds", "Time to Detect (TTD)", "Alert fired → incident confirmed"),
    MetricDefinition("time_to_declare_seconds", "Time to Declare", "Detection → Major Incident opened"),
    MetricDefinition("mttm_seconds", "Time to Mitigate (MTTM)", "Incident opened → mitigation applied"),
    MetricDefinition("mttr_seconds", "Time to Resolve (MTTR)", "Incident opened → validated recovery"),
)


def metric_rows(metrics: Metrics) -> list[tuple[MetricDefinition, int | None]]:
    """Each metric's definition with its value, in the seed's order."""
    values = metrics.model_dump()
    return [(definition, values[definition.field]) for definition in METRIC_DEFINITIONS]


def format_duration(seconds: int | None) -> str:
    """A duration as people read it: ``2 h 15 min``, ``7 min 30 s``, ``45 s``; ``unknown`` when missing."""
    if seconds is None:
        return "unknown"
    sign = "−" if seconds < 0 else ""
    remaining = abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count} {unit}")
    # Two units are enough to read; more is noise ("2 h 15 min", not "2 h 15 min 3 s").
    return sign + (" ".join(parts[:2]) if parts else "0 s")
