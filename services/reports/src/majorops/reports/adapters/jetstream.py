"""Reports' publisher: the events it emits go to the events stream as ingest's would."""

from __future__ import annotations

import json

from nats.js import JetStreamContext

from majorops.shared import subjects
from majorops.shared.events import CloudEvent
from majorops.shared.jetstream import publish_acked


class JetStreamEventPublisher:
    """:class:`~majorops.reports.ports.EventPublisher` on JetStream.

    Subject ``majorops.events.<incident_id>.<type without "majorops.">``, ``Nats-Msg-Id`` = event
    id, acknowledged or :class:`~majorops.shared.jetstream.UnacknowledgedPublish`.
    """

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js

    async def publish(self, event: CloudEvent) -> int:
        payload = json.dumps(event.to_wire(), ensure_ascii=False, separators=(",", ":")).encode()
        ack = await publish_acked(
            self.js, subjects.event_subject(event.incident_id, event.type), payload, msg_id=event.id
        )
        return int(ack.seq)
