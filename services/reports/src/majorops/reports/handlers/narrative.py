"""Editing the narrative of a review through the API.

An edit is checked against the review the editor read (its ETag, ``If-Match``) and saved with
compare-and-set, so two editors cannot overwrite each other: the later one is answered ``412``
with the current ETag.
"""

from __future__ import annotations

import structlog

from majorops.reports.commands import NarrativeEdit
from majorops.reports.domain.document import Narrative
from majorops.reports.handlers.materialise import assemble_review, read_review
from majorops.reports.ports import ReportsPorts, StoredReview
from majorops.reports.problems import edit_conflict, invalid_input, precondition_required, unknown_incident
from majorops.shared.events import FieldError
from majorops.shared.problems import Problem

log = structlog.get_logger(__name__)

NARRATIVE_SECTIONS = tuple(NarrativeEdit.model_fields)


def etag_matches(if_match: str, etag: str) -> bool:
    """RFC 9110 ``If-Match``: ``*``, or one of the listed tags equal to ``etag`` (strong comparison:
    a weak tag never matches)."""
    if if_match.strip() == "*":
        return True
    return any(candidate.strip() == etag for candidate in if_match.split(","))


async def edit_narrative(
    incident_id: str, patch: NarrativeEdit, if_match: str | None, ports: ReportsPorts, *, author: str
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
    changes = patch.narrative_changes()
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
