"""7. Action Items of the Learning Review, as the shared read model reads them (CONTRACT §5).

"Action items from After Actions are not optional. They are tracked in MajorOps." An item is created
by ``actionitem.created`` or by an item of an ``mtm.held`` (its id from
:func:`~majorops.shared.events.mtm_item_id`, its source ``mtm``); each field is what the latest
event (time, then id) that sent it says, ``actionitem.completed`` completes it (see
:mod:`majorops.shared.incident`). An update or completion of an item never created still shows the
item, titled by its id, rather than losing it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from majorops.shared.decisions import UtcTime
from majorops.shared.incident.model import Incident

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


def collect_action_items(incident: Incident) -> list[ActionItem]:
    """The incident's action items (``actionitem.*`` and ``mtm.held``), in order of first appearance."""
    return [
        ActionItem(
            item_id=item.item_id,
            title=item.label,
            owner=item.owner or None,
            due=item.due or None,
            status="open" if item.is_open else "completed",
            source=item.origin,
            completed_at=item.completed_at,
        )
        for item in incident.action_items
    ]
