"""What the routes act through, as FastAPI dependencies (``Depends``).

Each port is its own dependency, so a test replaces one without touching the others::

    app.dependency_overrides[publisher_of] = lambda: RefusingPublisher()

and with :func:`store_of` and :func:`publisher_of` both replaced a route runs with no NATS and no
lifespan at all. By default every port is the running process's (:class:`~majorops.reports.bootstrap.ReportsRuntime`); before
it started (or after it stopped) the store and publisher are not open: ``503``.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Annotated, Protocol

from fastapi import Depends, Request

from majorops.reports.config import ReportsSettings
from majorops.reports.ports import Clock, EventPublisher, ReportsPorts, ReviewStore
from majorops.shared.telemetry import Telemetry


class Serving(Protocol):
    """What the routes need of the running process (:class:`majorops.reports.bootstrap.ReportsRuntime`)."""

    @property
    def settings(self) -> ReportsSettings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def timezone(self) -> tzinfo: ...

    @property
    def extra_types(self) -> frozenset[str]: ...

    @property
    def telemetry(self) -> Telemetry: ...

    def open_ports(self) -> ReportsPorts: ...

    async def ready(self) -> dict[str, bool]: ...


def runtime_of(request: Request) -> Serving:
    """The reports process serving the request (set by :func:`majorops.reports.bootstrap.create_app`)."""
    runtime: Serving = request.app.state.runtime
    return runtime


Runtime = Annotated[Serving, Depends(runtime_of)]


def store_of(runtime: Runtime) -> ReviewStore:
    """The review store (raises :class:`~majorops.reports.ports.StoreNotOpen` before the start)."""
    return runtime.open_ports().store


def publisher_of(runtime: Runtime) -> EventPublisher:
    """Publishes the events reports emits to JetStream."""
    return runtime.open_ports().publisher


def clock_of(runtime: Runtime) -> Clock:
    """What "now" is: due dates, overdue filters, the time of the events reports emits."""
    return runtime.clock


def ports_of(
    runtime: Runtime,
    store: Annotated[ReviewStore, Depends(store_of)],
    publisher: Annotated[EventPublisher, Depends(publisher_of)],
    clock: Annotated[Clock, Depends(clock_of)],
) -> ReportsPorts:
    """Everything the use cases act through, from the ports above."""
    return ReportsPorts(store, publisher, clock, runtime.timezone, runtime.extra_types)


def now_of(clock: Annotated[Clock, Depends(clock_of)]) -> datetime:
    return clock()


def author_of(request: Request) -> str:
    """The name of the token the request was let in with (set by :class:`~majorops.shared.access.TokenGate`)."""
    return str(request.state.author)


Ports = Annotated[ReportsPorts, Depends(ports_of)]
Now = Annotated[datetime, Depends(now_of)]
Author = Annotated[str, Depends(author_of)]
