"""Which durable consumers belong to which broker.

A registry of its own, below both :mod:`majorops.shared.consumers` (which registers and runs them)
and :mod:`majorops.shared.telemetry` (which reads each durable's state at scrape time), so that the
consumers can report to telemetry without telemetry importing them back.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol


class Durable(Protocol):
    """What telemetry needs of a consumer: the stream it reads and its durable's name."""

    stream: str
    durable: str


_REGISTERED: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()


def register(broker: Any, consumer: Durable) -> None:
    """Add ``consumer`` to the consumers of ``broker`` (kept as long as the broker lives)."""
    _REGISTERED.setdefault(broker, []).append(consumer)


def registered(broker: Any) -> list[Any]:
    """The consumers registered with ``broker``, in the order they were."""
    return list(_REGISTERED.get(broker, []))
