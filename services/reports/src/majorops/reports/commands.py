"""What people ask of reports over HTTP: the request bodies, checked field by field.

The field types are the event contract's own (:mod:`majorops.shared.events`), so a body that
passes here also makes a valid ``majorops.actionitem.*`` event; the event is validated again
with :func:`~majorops.shared.events.validate_event` before it is published. Unknown fields are
refused: a typo ("ownr") must not be silently dropped from a person's edit.

A narrative edit (:class:`NarrativeEdit`) mirrors what ``GET`` shows: ``root_cause`` may be the
object of the review (``{"text", "contributing_factors"}``, merged member by member as RFC 7396
says) as well as the plain text.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from majorops.reports.domain.document import Change, DueDateField
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


class RootCauseEdit(BaseModel):
    """``root_cause`` of a narrative edit in the shape ``GET`` shows it: each member given replaces
    that part of the root cause, ``null`` returns it to what the record says, a member left out
    stays as it is (RFC 7396). ``fingerprint`` and ``vendor_related`` come from the record
    (``rootcause.identified``) and cannot be edited."""

    model_config = _STRICT_BODY

    text: str | None = Field(default=None, description="The root cause: what failed, systems and processes")
    contributing_factors: list[str] | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> RootCauseEdit:
        if not self.model_fields_set:
            raise ValueError("needs at least one of: text, contributing_factors")
        return self


def _text_or_members(value: Any) -> Any:
    """The plain string form of ``root_cause`` is its text."""
    if isinstance(value, str):
        return {"text": value}
    if value is None or isinstance(value, dict | RootCauseEdit):
        return value
    raise ValueError("must be a string (the root cause text) or an object with text, contributing_factors")


class NarrativeEdit(BaseModel):
    """``PATCH /v1/reviews/{incident_id}``: a JSON merge patch (RFC 7396) of the narrative.

    A section given replaces it; ``null`` returns it to what the record says (``root_cause: null``:
    its text, as in the plain string form). ``root_cause`` is the text, or an object as ``GET``
    shows it (:class:`RootCauseEdit`), merged member by member.
    """

    # Contributing factors are given at the top level or inside ``root_cause``, not both (a 422).
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "minProperties": 1,
            "not": {
                "required": ["root_cause", "contributing_factors"],
                "properties": {"root_cause": {"type": "object", "required": ["contributing_factors"]}},
            },
        },
    )

    root_cause: Annotated[
        RootCauseEdit | None,
        BeforeValidator(_text_or_members, json_schema_input_type=str | RootCauseEdit | None),
        Field(
            title="Root Cause",
            description="The root cause text, or an object as GET shows it: text, contributing_factors",
        ),
    ] = None
    contributing_factors: list[str] | None = None
    went_well: list[str] | None = None
    changes: list[Change] | None = None
    learning_statements: list[str] | None = None

    @field_validator("contributing_factors")
    @classmethod
    def _given_once(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        edit = info.data.get("root_cause")
        if isinstance(edit, RootCauseEdit) and "contributing_factors" in edit.model_fields_set:
            raise ValueError("is given twice, here and as root_cause.contributing_factors: send one")
        return value

    def narrative_changes(self) -> dict[str, Any]:
        """The sections this edit sets, as fields of the stored narrative
        (:class:`~majorops.reports.domain.document.Narrative`); ``None``: back to the record."""
        changes = {name: getattr(self, name) for name in self.model_fields_set if name != "root_cause"}
        if "root_cause" in self.model_fields_set:
            edit = self.root_cause
            if edit is None:
                changes["root_cause"] = None
            else:
                if "text" in edit.model_fields_set:
                    changes["root_cause"] = edit.text
                if "contributing_factors" in edit.model_fields_set:
                    changes["contributing_factors"] = edit.contributing_factors
        return changes
