"""7. Action Items of the Learning Review, folded from the incident record (CONTRACT §5).

"Action items from After Actions are not optional. They are tracked in MajorOps." An item is created
by ``actionitem.created`` or by an item of an ``mtm.held`` (its id from
:func:`~majorops.shared.events.mtm_item_id`); the first creation wins, later updates replace the
fields they carry, ``actionitem.completed`` completes it. An update or completion of an item never
created still shows the item, titled by its id, rather than losing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from majorops.reports.domain.timeline import review_fold
from majorops.shared.decisions import UtcTime
from majorops.shared.events import (
    ActionItemCompleted,
    ActionItemCreated,
    ActionItemUpdated,
    CloudEvent,
    EventType,
    MtmHeld,
    mtm_item_id,
)
from majorops.shared.record import EventFold, TypedEvent

ActionItemStatus = Literal["open", "completed"]
ActionItemSource = Literal["actionitem", "mtm"]


class ActionItemFields(BaseModel):
    """What every list of action items shows of one: which, what, who and by when."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    title: str
    owner: str | None = None
    due: str | None = None
    """An RFC 3339 time or a plain ``YYYY-MM-DD`` date, as recorded."""


class ActionItem(ActionItemFields):
    """7. Action Items: tracked with an owner, a due date and a status."""

    status: ActionItemStatus = "open"
    source: ActionItemSource = "actionitem"
    completed_at: UtcTime | None = None


_FIELDS = ("title", "owner", "due")


@dataclass
class _ItemFold:
    item_id: str
    source: ActionItemSource
    title: str | None = None
    owner: str | None = None
    due: str | None = None
    completed_at: datetime | None = None

    def take(self, sent: BaseModel) -> None:
        """Take every field the event carries (an explicit ``null`` clears one)."""
        for name in _FIELDS:
            if name in sent.model_fields_set:
                setattr(self, name, getattr(sent, name))


@dataclass
class _ItemsFold:
    """The running state of :func:`collect_action_items` (what :data:`ACTION_ITEM_READERS` writes)."""

    items: dict[str, _ItemFold] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)

    def item(self, item_id: str) -> _ItemFold:
        return self.items.setdefault(item_id, _ItemFold(item_id=item_id, source="actionitem"))

    def create(self, item_id: str, source: ActionItemSource, sent: BaseModel) -> None:
        if item_id in self.created:
            return  # the first creation wins
        self.created.add(item_id)
        fold = self.item(item_id)
        fold.source = source
        fold.title = fold.owner = fold.due = None
        fold.take(sent)


def _mtm_held(fold: _ItemsFold, read: TypedEvent[MtmHeld]) -> None:
    for index, item in enumerate(read.data.action_items or []):
        fold.create(mtm_item_id(read.event.id, index), "mtm", item)


def _created(fold: _ItemsFold, read: TypedEvent[ActionItemCreated]) -> None:
    fold.create(read.data.item_id, "actionitem", read.data)


def _updated(fold: _ItemsFold, read: TypedEvent[ActionItemUpdated]) -> None:
    fold.item(read.data.item_id).take(read.data)


def _completed(fold: _ItemsFold, read: TypedEvent[ActionItemCompleted]) -> None:
    item = fold.item(read.data.item_id)
    if item.completed_at is None:
        item.completed_at = read.event.occurred_at


ACTION_ITEM_READERS: EventFold[_ItemsFold] = review_fold(
    {
        EventType.MTM_HELD: _mtm_held,
        EventType.ACTIONITEM_CREATED: _created,
        EventType.ACTIONITEM_UPDATED: _updated,
        EventType.ACTIONITEM_COMPLETED: _completed,
    }
)


def collect_action_items(record: Iterable[CloudEvent]) -> list[ActionItem]:
    """Action items from ``actionitem.*`` and ``mtm.held``, in order of first appearance.

    ``record`` is in record order (see the module docstring for how events change an item).
    """
    fold = ACTION_ITEM_READERS.read_all(_ItemsFold(), record)
    return [
        ActionItem(
            item_id=item.item_id,
            title=item.title or item.item_id,
            owner=item.owner or None,
            due=item.due or None,
            status="completed" if item.completed_at is not None else "open",
            source=item.source,
            completed_at=item.completed_at,
        )
        for item in fold.items.values()
    ]
