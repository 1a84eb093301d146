"""What people ask of reports over HTTP: the request bodies, checked field by field.

The field types are the event contract's own (:mod:`majorops.shared.events`), so a body that
passes here also makes a valid ``majorops.actionitem.*`` event; the event is validated again
with :func:`~majorops.shared.events.validate_event` before it is published. Unknown fields are
refused: a typo ("ownr") must not be silently dropped from a person's edit.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from majorops.reports.domain.learning_review import DueDateField
from majorops.shared.events import ItemId, Person, Text

# An empty change is refused ("needs at least one of …"); ``minProperties`` says so in the schema.
_STRICT_BODY = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"minProperties": 1})

# A blank title or owner is refused ("must not be blank"): the schema says so with a pattern
# that needs one non-space character, so that a body following the schema is accepted.
_NOT_BLANK = {"type": "string", "minLength": 1, "pattern": r"\S"}
TextField = Annotated[Text, WithJsonSchema(_NOT_BLANK)]
PersonField = Annotated[Person, WithJsonSchema(_NOT_BLANK)]


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
    title: TextField
    owner: PersonField | None = None
    due: DueDateField | None = Field(
        default=None, description="RFC 3339 time, or a YYYY-MM-DD date (end of that day)"
    )


class ActionItemChanges(BaseModel):
    """``PATCH /v1/reviews/{incident_id}/action-items/{item_id}``: the fields to change.

    ``owner`` or ``due`` set to ``null`` clears it; ``title`` cannot be cleared.
    """

    model_config = _STRICT_BODY

    # Not nullable in the schema: ``null`` is refused (a title cannot be cleared); the default
    # None only means "not given" (model_fields_set tells which fields were sent).
    title: Annotated[Text | None, WithJsonSchema(_NOT_BLANK)] = None
    owner: PersonField | None = None
    due: DueDateField | None = Field(
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
