"""Reports use cases, in three parts: record what the streams deliver, keep each review
materialised, act on requests.

- :mod:`~majorops.reports.handlers.consume`: an event, decision or escalation is stored, then its
  incident is marked changed (:func:`record`, one path for the three streams);
- :mod:`~majorops.reports.handlers.materialise`: marked reviews are re-assembled in the background
  and before they are read; lists page through the materialised reviews;
- :mod:`~majorops.reports.handlers.act`: narrative edits (ETag and compare-and-set), action items
  and publication (events published to JetStream, then recorded here at once).

The names below are the use cases the HTTP routes and the runtime call.
"""

from majorops.reports.handlers.act import (
    Accepted,
    AlreadyPublished,
    complete_action_item,
    create_action_item,
    edit_narrative,
    etag_matches,
    publish_review,
    reports_event,
    update_action_item,
)
from majorops.reports.handlers.consume import (
    DECISION,
    ESCALATION,
    EVENT,
    Consumed,
    apply_event,
    record,
    record_events,
)
from majorops.reports.handlers.materialise import (
    assemble_review,
    assemble_stale,
    decode_cursor,
    learning_review_of,
    list_action_items,
    list_reviews,
    read_review,
    review_etag,
)

__all__ = [
    "DECISION",
    "ESCALATION",
    "EVENT",
    "Accepted",
    "AlreadyPublished",
    "Consumed",
    "apply_event",
    "assemble_review",
    "assemble_stale",
    "complete_action_item",
    "create_action_item",
    "decode_cursor",
    "edit_narrative",
    "etag_matches",
    "learning_review_of",
    "list_action_items",
    "list_reviews",
    "publish_review",
    "read_review",
    "record",
    "record_events",
    "reports_event",
    "review_etag",
    "update_action_item",
]
