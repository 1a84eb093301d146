"""What the routes take from the path and the query, and which ids can name anything at all."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header, Query

from majorops.reports.problems import unknown_action_item, unknown_incident
from majorops.shared.events import INCIDENT_ID_PATTERN
from majorops.shared.problems import Problem

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

_INCIDENT_ID = re.compile(INCIDENT_ID_PATTERN)
_ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
IfMatch = Annotated[str | None, Header(description="The ETag of the review being edited (required)")]


def unknown_unless_valid(incident_id: str, item_id: str | None = None) -> Problem | None:
    """A 404 for an id no incident (or action item) can have, so it never reaches the store."""
    if not _INCIDENT_ID.match(incident_id):
        return unknown_incident(incident_id)
    if item_id is not None and not _ITEM_ID.match(item_id):
        return unknown_action_item(incident_id, item_id)
    return None
