"""RFC 9457 problem documents: how every HTTP service of the system says what was wrong.

Errors are values at the edge: ``errors`` name each bad field (with the array index where a batch
was sent), and a problem changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from majorops.shared.events import FieldError

PROBLEM_BASE = "https://majorops.dev/problems"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem document; `errors` lists each problem by field (and array index in "
    "a batch)",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "index": {"type": "integer"},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
"""The JSON schema of :meth:`Problem.as_dict`, as the services' OpenAPI documents declare it
(extension members such as ``current_etag`` may be added)."""


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem: ``errors`` name each bad field, ``extensions`` carry what else helps."""

    status: int
    title: str
    detail: str
    slug: str
    errors: Sequence[FieldError] = ()
    extensions: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": f"{PROBLEM_BASE}/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            doc["errors"] = [error.as_dict() for error in self.errors]
        doc.update(self.extensions)
        return doc
