"""Publishing a review through the API: ``majorops.review.published``, once, and only when no
lint error remains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from majorops.reports.domain.lint_findings import blocking_findings
from majorops.reports.domain.timeline import ReviewStatus
from majorops.reports.handlers.emit import Accepted, emit_new, reports_event
from majorops.reports.handlers.materialise import learning_review_of, read_review
from majorops.reports.ports import ReportsPorts
from majorops.reports.problems import review_not_ready, unknown_incident
from majorops.shared.decisions import format_utc
from majorops.shared.events import EventType
from majorops.shared.problems import Problem

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AlreadyPublished:
    """``POST /publish`` of a review already published: nothing new happens (``200``)."""

    incident_id: str
    published_at: datetime | None
    event_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "status": ReviewStatus.PUBLISHED.value,
            "published_at": format_utc(self.published_at) if self.published_at else None,
            "event_id": self.event_id,
        }


def publication_event_id(incident_id: str) -> str:
    """One id per review's publication, so a retried request is one event."""
    return f"reports-published-{incident_id}"


async def publish_review(
    incident_id: str, ports: ReportsPorts, *, author: str
) -> Accepted | AlreadyPublished | Problem:
    """Emit ``majorops.review.published`` unless a lint error remains (409 listing them)."""
    stored = await read_review(incident_id, ports)
    if stored is None:
        return unknown_incident(incident_id)
    review = learning_review_of(stored)
    if review.status == ReviewStatus.PUBLISHED:
        published = [
            entry.event_id for entry in review.timeline if entry.type == EventType.REVIEW_PUBLISHED.short
        ]
        return AlreadyPublished(incident_id, review.published_at, published[0] if published else None)
    blocking = blocking_findings(review.lint)
    if blocking:
        return review_not_ready([finding.model_dump(mode="json") for finding in blocking])
    made = reports_event(
        incident_id, EventType.REVIEW_PUBLISHED, {}, ports, publication_event_id(incident_id), author=author
    )
    event = await emit_new(made, ports)
    if isinstance(event, Problem):
        return event
    log.info("reports.review_published", incident_id=incident_id, event_id=event.id, by=author)
    return Accepted(event.id, incident_id, status=ReviewStatus.PUBLISHED.value)
