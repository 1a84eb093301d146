"""Materialising: each incident's review is kept assembled in the store, and read from there.

The assembler (:func:`assemble_stale`, run in the background) re-assembles the reviews marked
changed, so a burst of events costs one assembly, not one per event. Reading a review that is
marked assembles it first (:func:`read_review`), so a reader never sees a review older than what
was recorded; lists read the materialised reviews as they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import structlog

from majorops.reports.domain.action_items import collect_action_items
from majorops.reports.domain.document import LearningReview
from majorops.reports.domain.follow_up import (
    EFFECTIVENESS_WINDOW,
    AlertFire,
    EarlierRecord,
    alert_fires_in,
    earliest_completion,
    latest_completion,
)
from majorops.reports.domain.learning_review import assemble_learning_review
from majorops.reports.domain.listing import (
    ActionItemRecord,
    ReviewListing,
    action_item_records,
    review_listing,
)
from majorops.reports.domain.timeline import RecordedEvent, as_incident
from majorops.reports.ports import ActionItemQuery, ReportsPorts, ReviewQuery, StoredReview
from majorops.reports.problems import invalid_input
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.events import FieldError
from majorops.shared.problems import Problem

log = structlog.get_logger(__name__)


def review_etag(document: dict[str, Any]) -> str:
    """The strong entity tag of a review document: a digest of its canonical JSON."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f'"{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"'


@dataclass(frozen=True)
class Assembled:
    """The outcome of one assembly: the review built, and the review now stored (the same one,
    unless a concurrent assembly of a newer generation won)."""

    review: LearningReview
    stored: StoredReview
    changed: bool


async def assemble_review(incident_id: str, ports: ReportsPorts) -> Assembled:
    """Assemble the incident's review from everything stored and store it (with its action items).

    When its content changed, the reviews that link it as an earlier review are marked changed.
    """
    store = ports.store
    # Bump first, read after: every change marked up to this generation is visible below.
    generation = await store.mark_changed(incident_id)
    events = [RecordedEvent(s.event(), s.arrival) for s in await store.events_for(incident_id)]
    decision = await store.latest_decision(incident_id)
    escalations = await store.escalations_for(incident_id)
    narrative = await store.narrative_for(incident_id)
    fires = await _fires_after_completions(incident_id, events, ports)
    review = assemble_learning_review(
        events,
        decision,
        escalations,
        narrative.narrative,
        incident_id=incident_id,
        earlier=await _earlier_records(decision, ports),
        alert_fires=fires,
    )
    document = review.model_dump(mode="json")
    etag = review_etag(document)
    previous = await store.review(incident_id)
    changed = previous is None or previous.etag != etag
    # "Updated" is when the content last changed, not when it was last re-assembled.
    updated_at = previous.listing.updated_at if previous is not None and not changed else ports.clock()
    stored = StoredReview(
        listing=review_listing(review, updated_at),
        document=document,
        etag=etag,
        narrative_version=narrative.version,
        repeat_of=tuple(review.after_action.repeat_of),
    )
    written = await store.save_review(stored, action_item_records(review, ports.timezone), generation)
    if written and changed:
        for follower in await store.incidents_repeating(incident_id):
            await store.mark_changed(follower)
    if written and fires != await _fires_after_completions(incident_id, events, ports):
        # A fire recorded while this review was assembled found it not yet published (or its item
        # not yet completed) and so did not mark it: look again now that it is stored, and mark it.
        await store.mark_changed(incident_id)
    if not written:  # a newer assembly is stored: that is the review now
        stored = await store.review(incident_id) or stored
    log.debug("reports.review_assembled", incident_id=incident_id, generation=generation, changed=changed)
    return Assembled(review=review, stored=stored, changed=changed and written)


async def _earlier_records(
    decision: AfterActionDecision | None, ports: ReportsPorts
) -> dict[str, EarlierRecord]:
    records: dict[str, EarlierRecord] = {}
    if decision is None:
        return records
    for earlier_id in dict.fromkeys(decision.repeat_of):
        if earlier_id == decision.incident_id:
            continue
        stored = await ports.store.review(earlier_id)
        items = await ports.store.action_items_of(earlier_id)
        records[earlier_id] = EarlierRecord(
            title=stored.listing.title if stored else None,
            severity=stored.listing.severity if stored else None,
            status=stored.listing.status if stored else None,
            action_items=[item.as_item() for item in items],
        )
    return records


async def _fires_after_completions(
    incident_id: str, events: Sequence[RecordedEvent], ports: ReportsPorts
) -> list[AlertFire]:
    """The fires of the incident's own alerts in the 30 days after its action items' completions.

    Read only for a published review with completed items (the only case they are shown for).
    """
    incident = as_incident(events, incident_id)
    if incident.after_action.published_at is None:
        return []
    items = collect_action_items(incident)
    first, last = earliest_completion(items), latest_completion(items)
    keys = sorted({fire.key for fire in alert_fires_in(incident)})
    if first is None or last is None or not keys:
        return []
    return await ports.store.alert_fires(keys, after=first, until=last + EFFECTIVENESS_WINDOW)


async def assemble_stale(ports: ReportsPorts, limit: int = 50) -> int:
    """Re-assemble up to ``limit`` reviews marked changed; how many were attempted.

    One review failing is logged and left marked (retried on the next round), never blocking
    the others.
    """
    stale = await ports.store.stale_reviews(limit)
    for incident_id in stale:
        try:
            await assemble_review(incident_id, ports)
        except Exception as exc:
            log.error("reports.assembly_failed", incident_id=incident_id, error=str(exc), exc_info=exc)
    return len(stale)


# --- reading --------------------------------------------------------------------------------


async def read_review(incident_id: str, ports: ReportsPorts) -> StoredReview | None:
    """The incident's current review, assembled first if anything changed since; None if unknown."""
    stored = await ports.store.review(incident_id)
    if stored is not None and not stored.stale:
        return stored
    if stored is None and not await ports.store.knows_incident(incident_id):
        return None
    return (await assemble_review(incident_id, ports)).stored


def learning_review_of(stored: StoredReview) -> LearningReview:
    """The stored document as the domain's review (to render or to lint)."""
    return LearningReview.model_validate(stored.document)


T = TypeVar("T")
Query = TypeVar("Query", ReviewQuery, ActionItemQuery)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next one (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(position: Sequence[str]) -> str:
    """An opaque cursor: where the page ended (the last item's key)."""
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int) -> list[str] | Problem:
    """The position a cursor of :func:`encode_cursor` holds, or a 422 problem naming ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        position = None
    if not (
        isinstance(position, list) and len(position) == parts and all(isinstance(p, str) for p in position)
    ):
        return invalid_input(
            [FieldError("cursor", "is not a cursor of this list; pass next_cursor from the previous page")],
            "query",
        )
    return position


async def list_reviews(query: ReviewQuery, ports: ReportsPorts) -> Page[ReviewListing]:
    """A page of the stored reviews; ``next_cursor`` when more follow.

    The list reads the materialised reviews as they are: a change consumed moments ago shows once
    the assembler has run (milliseconds), which keeps a list's latency independent of a burst.
    """
    rows = await ports.store.list_reviews(_one_more(query))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return Page(rows, encode_cursor([rows[-1].incident_id]) if more and rows else None)


async def list_action_items(query: ActionItemQuery, ports: ReportsPorts) -> Page[ActionItemRecord]:
    """A page of action items across incidents (as last assembled); ``next_cursor`` when more follow."""
    rows = await ports.store.list_action_items(_one_more(query))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return Page(rows, encode_cursor([rows[-1].incident_id, rows[-1].item_id]) if more and rows else None)


def _one_more(query: Query) -> Query:
    # One row beyond the page says whether another page follows.
    return replace(query, limit=query.limit + 1)
