"""What ingest's handlers need from the outside world."""

from __future__ import annotations

from typing import Protocol

from majorops.shared.events import CloudEvent


class EventPublisher(Protocol):
    async def publish_once(self, event: CloudEvent) -> bool:
        """Publish the event unless its id was accepted before; True when it is new.

        Raises when the event could not be durably published (no PubAck): it is then not accepted.
        """
        ...
