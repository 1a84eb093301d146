"""What the runtime of a service that only consumes (policy, reminders) does around its own start and
stop: readiness, the probe server, and running until SIGTERM or SIGINT — over its own list of
durable consumers (:attr:`ConsumerRuntime.consumers`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

from majorops.shared.heartbeat import Watchdog
from majorops.shared.lifecycle import run_until_signalled
from majorops.shared.probes import ProbeServer, consumer_readiness, probe_app, serving_probes
from majorops.shared.telemetry import telemetry_of

if TYPE_CHECKING:
    from faststream.nats import NatsBroker

    from majorops.shared.consumers import DurableConsumer


class _AnsweringStore(Protocol):
    async def ping(self) -> bool: ...


class ConsumerRuntime:
    """:meth:`ready`, :meth:`probes` and :meth:`run` of a consumer service's runtime, from its
    ``broker``, its ``consumers``, its ``store``, its :meth:`start` and :meth:`stop`, and its
    :meth:`probe_address`."""

    service: ClassVar[str]
    broker: NatsBroker
    consumers: list[DurableConsumer]
    store: _AnsweringStore

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    def probe_address(self) -> tuple[str, int]:
        """Where the probes listen: the service's ``MAJOROPS_<SERVICE>_HTTP_HOST`` and ``_PORT``."""
        raise NotImplementedError

    async def ready(self) -> dict[str, bool]:
        """Each readiness check by name: NATS connected, every durable consumer bound, the store answering."""
        return await consumer_readiness(self.broker, self.consumers, self.store.ping)

    def probes(self) -> ProbeServer | None:
        """``/healthz``, ``/readyz``, ``/metrics`` at :meth:`probe_address` (None when its port is 0)."""
        host, port = self.probe_address()
        if not port:
            return None
        return ProbeServer(probe_app(self.broker, self.ready, self.consumers), host, port)

    async def run(self) -> None:
        """Serve the probes, run until SIGTERM or SIGINT, then stop gracefully; a failed start ends
        with its error. A loop that cannot recover ends the process (the watchdog,
        :mod:`majorops.shared.heartbeat`)."""
        watchdog = Watchdog(telemetry_of(self.broker).heartbeats).start()
        try:
            async with serving_probes(self.probes()):
                await run_until_signalled(self.service, self.start, self.stop)
        finally:
            watchdog.stop()
