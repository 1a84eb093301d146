"""What ingest's handlers need from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from majorops.shared.events import CloudEvent


class EventPublisher(Protocol):
    async def publish_new(self, events: Sequence[CloudEvent]) -> list[bool]:
        """Publish, in order, each event whose id was never accepted; per event, True when it is new.

        Raises when some event could not be durably published (no PubAck); events before it may
        have been stored, and a retry of the whole batch is safe (ids make it idempotent).
        """
        ...
