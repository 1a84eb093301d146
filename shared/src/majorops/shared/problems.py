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
