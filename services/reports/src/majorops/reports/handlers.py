"""Reports use cases: record what the streams deliver, keep each review materialised, act on requests.

Consuming: an event, decision or escalation is stored, then its incident is marked changed; the
assembler (:func:`assemble_stale`, run in the background) re-assembles marked reviews, so a burst
of events costs one assembly, not one per event. Reading a review that is marked assembles it
first, so a reader never sees a review older than what was recorded.

Acting: edits of the narrative are checked against the review the editor read (its ETag) and
saved with compare-and-set, so two editors cannot overwrite each other. Action items and
publication are events: each is validated against the contract, published to JetStream
(acknowledged, or the request fails with 503 and nothing changes) and then recorded here at
once with the stream sequence JetStream gave it, exactly as the consumer will record it again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from majorops.reports.commands import ActionItemChanges, NewActionItem
from majorops.reports.domain.follow_up import (
    EFFECTIVENESS_WINDOW,
    AlertFire,
    EarlierRecord,
    alert_fire_of,
    alert_fires_in,
    earliest_completion,
    latest_completion,
)
from majorops.reports.domain.learning_review import (
    LearningReview,
    Narrative,
    assemble_learning_review,
    collect_action_items,
)
from majorops.reports.domain.lint import blocking_findings
from majorops.reports.domain.listing import (
    ActionItemRecord,
    ReviewListing,
    action_item_records,
    review_listing,
)
from majorops.reports.domain.timeline import RecordedEvent, ReviewStatus, in_record_order, review_status
from majorops.reports.ports import ActionItemQuery, ReportsPorts, ReviewQuery, StoredReview
from majorops.reports.problems import invalid_input, unavailable, unknown_action_item, unknown_incident
from majorops.shared.consumers import valid_events
from majorops.shared.decisions import AfterActionDecision, format_utc
from majorops.shared.escalations import Escalation
from majorops.shared.events import (
    AUTH_API_KEY,
    CloudEvent,
    EventType,
    EventValidationError,
    FieldError,
    validate_event,
)
from majorops.shared.jetstream import PoisonMessage, UnacknowledgedPublish
from majorops.shared.problems import Problem
from majorops.shared.storage.eventlog import StoredEvent

log = structlog.get_logger(__name__)

REPORTS_SOURCE = "majorops/reports"
"""The CloudEvents ``source`` of every event reports emits."""
ACTION_ITEM_ID_PREFIX = "AI-"
NARRATIVE_SECTIONS = tuple(Narrative.model_fields)


# --- consuming ------------------------------------------------------------------------------


async def record_event(body: Any, arrival: int, ports: ReportsPorts) -> bool:
    """Store one event of the events stream; True when it is new. An invalid envelope is poison."""
    try:
        event = validate_event(body, ports.extra_types)
    except EventValidationError as exc:
        raise PoisonMessage(f"invalid event envelope: {exc}") from exc
    return await apply_event(event, arrival, ports)


async def apply_event(event: CloudEvent, arrival: int, ports: ReportsPorts) -> bool:
    """Store a valid event, index it if it is an alert fire, and mark the reviews it changes.

    A redelivered event is marked again too: that heals a crash between storing and marking.
    """
    return (await apply_events([(event, arrival)], ports))[0]


async def apply_events(events: Sequence[tuple[CloudEvent, int]], ports: ReportsPorts) -> list[bool]:
    """:func:`apply_event` for a batch: stored in one write, each review marked changed once."""
    store = ports.store
    new_flags = await store.append_events(
        [StoredEvent.from_event(event, arrival) for event, arrival in events]
    )
    changed: dict[str, None] = {}
    for event, _ in events:
        fire = alert_fire_of(event)
        if fire is not None:
            await store.record_alert_fire(fire)
            # A fire may put a completed action item of another (published) review in doubt.
            for other in await store.incidents_to_recheck(fire.key, fire.fired_at):
                changed[other] = None
        changed[event.incident_id] = None
    for incident_id in changed:
        await store.mark_changed(incident_id)
    for (event, _), new in zip(events, new_flags, strict=True):
        log.info(
            "reports.event_recorded" if new else "reports.event_duplicate",
            incident_id=event.incident_id,
            event_id=event.id,
            type=event.type,
        )
    return new_flags


async def record_events(
    messages: Sequence[tuple[Any, int]], ports: ReportsPorts
) -> list[BaseException | None]:
    """:func:`record_event` for a fetched batch of ``(envelope, arrival)``. Per message ``None``
    (done), a :class:`PoisonMessage`, or the store's error (retried)."""
    outcomes, valid = valid_events(messages, ports.extra_types)
    if valid:
        try:
            await apply_events([(event, messages[index][1]) for index, event in valid], ports)
        except Exception as exc:
            for index, _ in valid:
                outcomes[index] = exc
    return outcomes


async def record_decision(body: Any, ports: ReportsPorts) -> bool:
    """Keep policy's decision if it is the incident's highest revision. An invalid payload is poison."""
    decision = _valid_or_poison(AfterActionDecision, body, "After Action decision")
    latest = await ports.store.save_decision(decision)
    await ports.store.mark_changed(decision.incident_id)
    log.info(
        "reports.decision_recorded" if latest else "reports.decision_superseded",
        incident_id=decision.incident_id,
        revision=decision.revision,
    )
    return latest


async def record_escalation(body: Any, ports: ReportsPorts) -> bool:
    """Store one escalation once per id. An invalid payload is poison."""
    escalation = _valid_or_poison(Escalation, body, "escalation")
    new = await ports.store.save_escalation(escalation)
    await ports.store.mark_changed(escalation.incident_id)
    log.info(
        "reports.escalation_recorded" if new else "reports.escalation_duplicate",
        incident_id=escalation.incident_id,
        escalation_id=escalation.escalation_id,
    )
    return new


# --- materialising --------------------------------------------------------------------------


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
    review = assemble_learning_review(
        events,
        decision,
        escalations,
        narrative.narrative,
        incident_id=incident_id,
        earlier=await _earlier_records(decision, ports),
        alert_fires=await _fires_after_completions(incident_id, events, ports),
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
    ordered = in_record_order(events)
    if review_status(ordered) != ReviewStatus.PUBLISHED:
        return []
    record = [r.event for r in ordered]
    items = collect_action_items(record)
    first, last = earliest_completion(items), latest_completion(items)
    keys = sorted({fire.key for fire in alert_fires_in(record)})
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


# --- editing the narrative ------------------------------------------------------------------


def etag_matches(if_match: str, etag: str) -> bool:
    """RFC 9110 ``If-Match``: ``*``, or one of the listed tags equal to ``etag`` (strong comparison:
    a weak tag never matches)."""
    if if_match.strip() == "*":
        return True
    return any(candidate.strip() == etag for candidate in if_match.split(","))


def precondition_required(etag: str) -> Problem:
    return Problem(
        428,
        "If-Match required",
        "Send the ETag of the review you edited in If-Match (GET /v1/reviews/{incident_id} gives it), "
        "so that your edit cannot overwrite someone else's",
        "precondition-required",
        extensions={"current_etag": etag},
    )


def edit_conflict(etag: str) -> Problem:
    return Problem(
        412,
        "The review changed since you read it",
        "Someone else's edit (or new incident data) changed the review after you read it; nothing was "
        "changed. Read it again (GET) and re-apply your edit with the new ETag",
        "edit-conflict",
        extensions={"current_etag": etag},
        headers={"ETag": etag},
    )


async def edit_narrative(
    incident_id: str, patch: Narrative, if_match: str | None, ports: ReportsPorts, *, author: str
) -> StoredReview | Problem:
    """Apply a narrative patch (JSON merge patch: a section given replaces it, ``null`` returns it to
    what the record says) to the review whose ETag is ``if_match``."""
    stored = await read_review(incident_id, ports)
    if stored is None:
        return unknown_incident(incident_id)
    if not patch.model_fields_set:
        return invalid_input(
            [FieldError("(body)", f"needs at least one of: {', '.join(NARRATIVE_SECTIONS)}")], "narrative"
        )
    if if_match is None or not if_match.strip():
        return precondition_required(stored.etag)
    if not etag_matches(if_match, stored.etag):
        return edit_conflict(stored.etag)
    current = await ports.store.narrative_for(incident_id)
    changes = {name: getattr(patch, name) for name in patch.model_fields_set}
    merged = (current.narrative or Narrative()).model_copy(update=changes)
    saved = None
    if current.version == stored.narrative_version:
        saved = await ports.store.save_narrative(incident_id, merged, current.version)
    if saved is None:
        # Another edit landed after the review the editor read: theirs stays, this one is refused.
        latest = await assemble_review(incident_id, ports)
        return edit_conflict(latest.stored.etag)
    log.info(
        "reports.narrative_edited",
        incident_id=incident_id,
        version=saved,
        sections=sorted(changes),
        by=author,
    )
    return (await assemble_review(incident_id, ports)).stored


# --- action items and publication: events -------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """A change accepted as an event (``202``): its id, and the item as it will be."""

    event_id: str
    incident_id: str
    item: dict[str, Any] | None = None
    status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"event_id": self.event_id, "incident_id": self.incident_id}
        if self.item is not None:
            body["item"] = self.item
        if self.status is not None:
            body["status"] = self.status
        return body


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


def reports_event(
    incident_id: str,
    event_type: EventType,
    data: dict[str, Any],
    ports: ReportsPorts,
    event_id: str | None = None,
    *,
    author: str,
) -> CloudEvent | Problem:
    """An event reports emits, validated by the contract; a 422 naming the field when it is not valid.
    It records ``author`` (the name of the write token of the request) as its ``authid``."""
    raw = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": REPORTS_SOURCE,
        "type": event_type.value,
        "time": format_utc(ports.clock()),
        "subject": incident_id,
        "datacontenttype": "application/json",
        "data": data,
    }
    try:
        return validate_event(raw, ports.extra_types).written_by(AUTH_API_KEY, author)
    except EventValidationError as exc:
        # The caller sent the data fields as the body: name them as they were sent.
        return invalid_input([FieldError(e.field.removeprefix("data."), e.message) for e in exc.errors])


async def emit(event: CloudEvent, ports: ReportsPorts) -> int | Problem:
    """Publish the event (acknowledged or a 503 problem), then record it here at once."""
    try:
        arrival = await ports.publisher.publish(event)
    except UnacknowledgedPublish as exc:
        log.warning(
            "reports.publish_unacknowledged", incident_id=event.incident_id, event_id=event.id, error=str(exc)
        )
        return unavailable(str(exc))
    try:
        # Read your own write: the consumer will record the same event with the same arrival again.
        await apply_event(event, arrival, ports)
        await assemble_review(event.incident_id, ports)
    except Exception as exc:  # published all the same: the consumer records it
        log.warning(
            "reports.local_record_failed", incident_id=event.incident_id, event_id=event.id, error=str(exc)
        )
    log.info(
        "reports.event_emitted",
        incident_id=event.incident_id,
        event_id=event.id,
        type=event.type,
        by=event.author,
    )
    return arrival


def _items_of(stored: StoredReview) -> dict[str, dict[str, Any]]:
    return {item["item_id"]: item for item in stored.document.get("action_items", [])}


def _new_item_id(taken: set[str]) -> str:
    while True:
        candidate = f"{ACTION_ITEM_ID_PREFIX}{uuid.uuid4().hex[:8]}"
        if candidate not in taken:
            return candidate


def _public_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item.get(key) for key in ("item_id", "title", "owner", "due", "status", "completed_at")}


async def create_action_item(
    incident_id: str, body: NewActionItem, ports: ReportsPorts, *, author: str
) -> Accepted | Problem:
    """Emit ``majorops.actionitem.created`` for a new item of a known incident."""
    stored = await read_review(incident_id, ports)
    if stored is None:
        return unknown_incident(incident_id)
    existing = _items_of(stored)
    if body.item_id is not None and body.item_id in existing:
        return Problem(
            409,
            "Action item exists",
            f"Incident {incident_id!r} already has action item {body.item_id!r}; "
            f"change it with PATCH /v1/reviews/{incident_id}/action-items/{body.item_id}",
            "action-item-exists",
        )
    item_id = body.item_id or _new_item_id(set(existing))
    data = {"item_id": item_id, **body.model_dump(exclude={"item_id"}, exclude_none=True)}
    event = reports_event(incident_id, EventType.ACTIONITEM_CREATED, data, ports, author=author)
    if isinstance(event, Problem):
        return event
    emitted = await emit(event, ports)
    if isinstance(emitted, Problem):
        return emitted
    item = {"item_id": item_id, "title": body.title, "owner": body.owner, "due": body.due}
    return Accepted(event.id, incident_id, {**item, "status": "open", "completed_at": None})


async def update_action_item(
    incident_id: str, item_id: str, changes: ActionItemChanges, ports: ReportsPorts, *, author: str
) -> Accepted | Problem:
    """Emit ``majorops.actionitem.updated`` with the fields given."""
    stored = await read_review(incident_id, ports)
    if stored is None:
        return unknown_incident(incident_id)
    item = _items_of(stored).get(item_id)
    if item is None:
        return unknown_action_item(incident_id, item_id)
    data = {"item_id": item_id, **changes.as_data()}
    event = reports_event(incident_id, EventType.ACTIONITEM_UPDATED, data, ports, author=author)
    if isinstance(event, Problem):
        return event
    emitted = await emit(event, ports)
    if isinstance(emitted, Problem):
        return emitted
    return Accepted(event.id, incident_id, _public_item({**item, **changes.as_data()}))


def completion_event_id(incident_id: str, item_id: str) -> str:
    """One id per item's completion, so a retried request is one event (JetStream and every store
    deduplicate it)."""
    return "reports-completed-" + hashlib.sha256(f"{incident_id}/{item_id}".encode()).hexdigest()[:32]


def publication_event_id(incident_id: str) -> str:
    """One id per review's publication, so a retried request is one event."""
    return f"reports-published-{incident_id}"


async def complete_action_item(
    incident_id: str, item_id: str, ports: ReportsPorts, *, author: str
) -> Accepted | Problem:
    """Emit ``majorops.actionitem.completed`` for an open item."""
    stored = await read_review(incident_id, ports)
    if stored is None:
        return unknown_incident(incident_id)
    item = _items_of(stored).get(item_id)
    if item is None:
        return unknown_action_item(incident_id, item_id)
    if item.get("status") == "completed":
        return Problem(
            409,
            "Action item already completed",
            f"Action item {item_id!r} of incident {incident_id!r} was completed at {item.get('completed_at')}",
            "action-item-completed",
            extensions={"item": _public_item(item)},
        )
    event = reports_event(
        incident_id,
        EventType.ACTIONITEM_COMPLETED,
        {"item_id": item_id},
        ports,
        event_id=completion_event_id(incident_id, item_id),
        author=author,
    )
    if isinstance(event, Problem):
        return event
    emitted = await emit(event, ports)
    if isinstance(emitted, Problem):
        return emitted
    done = {**item, "status": "completed", "completed_at": event.time}
    return Accepted(event.id, incident_id, _public_item(done))


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
        return Problem(
            409,
            "Review not ready to publish",
            f"{len(blocking)} lint error(s) remain; fix them (PATCH the narrative, complete or change the "
            "action items) and publish again",
            "review-not-ready",
            extensions={"findings": [finding.model_dump(mode="json") for finding in blocking]},
        )
    event = reports_event(
        incident_id,
        EventType.REVIEW_PUBLISHED,
        {},
        ports,
        event_id=publication_event_id(incident_id),
        author=author,
    )
    if isinstance(event, Problem):
        return event
    emitted = await emit(event, ports)
    if isinstance(emitted, Problem):
        return emitted
    log.info("reports.review_published", incident_id=incident_id, event_id=event.id, by=author)
    return Accepted(event.id, incident_id, status=ReviewStatus.PUBLISHED.value)


PayloadT = TypeVar("PayloadT", bound=BaseModel)


def _valid_or_poison(model: type[PayloadT], body: Any, what: str) -> PayloadT:
    """The payload as ``model``; an invalid one is poison, named with its first errors."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise PoisonMessage(f"invalid {what}: {_first_errors(exc)}") from exc


def _first_errors(exc: ValidationError, limit: int = 5) -> str:
    errors = exc.errors(include_url=False)[:limit]
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in errors)
