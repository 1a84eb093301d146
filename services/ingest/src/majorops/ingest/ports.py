"""What ingest's handlers need from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from majorops.shared.events import CloudEvent


class IdsTaken(Exception):
    """Some events' ids were accepted before with other content; nothing was published."""

    def __init__(self, positions: Sequence[int]) -> None:
        super().__init__(f"{len(positions)} id(s) accepted before with other content")
        self.positions = list(positions)


class EventPublisher(Protocol):
    async def publish_new(
        self, events: Sequence[CloudEvent], digests: Sequence[str], *, refuse_conflicts: bool = True
    ) -> list[bool]:
        """Publish, in order, each event whose id was never accepted; per event, True when it is new.
        ``digests`` (:func:`~majorops.ingest.domain.batch.content_digest` of each event) are
        recorded with the ids.

        With ``refuse_conflicts``, raises :class:`IdsTaken` (the positions in ``events``) before
        publishing anything when some id was accepted with another digest. Raises any other error
        when some event could not be durably published (no PubAck); events before it may have been
        stored, and a retry of the whole batch is safe (ids make it idempotent).
        """
        ...
