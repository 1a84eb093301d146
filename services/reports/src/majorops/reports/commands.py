"""What people ask of reports over HTTP: the request bodies, checked field by field.

The field types are the event contract's own (:mod:`majorops.shared.events`), so a body that
passes here also makes a valid ``majorops.actionitem.*`` event; the event is validated again
with :func:`~majorops.shared.events.validate_event` before it is published. Unknown fields are
refused: a typo ("ownr") must not be silently dropped from a person's edit.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from majorops.shared.events import DueDate, ItemId, Person, Text

_STRICT_BODY = ConfigDict(frozen=True, extra="forbid")


class NewActionItem(BaseModel):
    """``POST /v1/reviews/{incident_id}/action-items``: an action item to create."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [{"title": "Add a pool-saturation alert", "owner": "SRE lead", "due": "2026-12-01"}]
        },
    )

    item_id: ItemId | None = Field(
        default=None, description="The item's id; generated (AI-<8 hex digits>) when absent"
    )
    title: Text
    owner: Person | None = None
    due: DueDate | None = Field(
        default=None, description="RFC 3339 time, or a YYYY-MM-DD date (end of that day)"
    )


class ActionItemChanges(BaseModel):
    """``PATCH /v1/reviews/{incident_id}/action-items/{item_id}``: the fields to change.

    ``owner`` or ``due`` set to ``null`` clears it; ``title`` cannot be cleared.
    """

    model_config = _STRICT_BODY

    title: Text | None = None
    owner: Person | None = None
    due: DueDate | None = Field(
        default=None, description="RFC 3339 time, or a YYYY-MM-DD date (end of that day)"
    )

    @field_validator("title")
    @classmethod
    def _title_stays(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("cannot be null: every action item keeps a title")
        return value

    @model_validator(mode="after")
    def _something_changes(self) -> ActionItemChanges:
        if not self.model_fields_set:
            raise ValueError("needs at least one of: title, owner, due")
        return self

    def as_data(self) -> dict[str, Any]:
        """The given fields only, as ``actionitem.updated`` data carries them."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}
