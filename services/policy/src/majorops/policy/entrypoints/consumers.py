"""Policy's consumer: every incident event (``majorops.events.>``, durable ``policy-events``), a
batch at a time, to :func:`~majorops.policy.handlers.handle_events`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from majorops.policy.config import SERVICE, PolicySettings
from majorops.policy.handlers import PolicyPorts, handle_events
from majorops.shared.batch_handlers import decoding_json
from majorops.shared.connecting import events_consumer
from majorops.shared.consumers import DurableConsumer


def consumers(settings: PolicySettings, ports: Callable[[], PolicyPorts]) -> list[DurableConsumer]:
    """Policy's durable consumers; ``ports`` gives the handlers' ports once the runtime is started."""

    async def on_events(batch: Sequence[tuple[Any, int]]) -> list[BaseException | None]:
        """Record a batch of ``(envelope, arrival)``, re-derive the decisions they affect once,
        publish the changes."""
        return await handle_events(batch, ports(), settings.extra_types)

    return [events_consumer(SERVICE, settings, decoding_json(on_events))]
