"""The settings of a service under test: the session's consumer values, the tests' own access
tokens, and a free port."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, TypeVar

from majorops.shared import subjects
from majorops.shared.settings import CommonSettings

SettingsT = TypeVar("SettingsT", bound=CommonSettings)

DEADLINE_SECONDS = 20.0
"""How long :func:`eventually` waits by default: generous for 2 cores, never reached when all is well."""

CONSUMER_SETTINGS: dict[str, Any] = {"ack_wait_seconds": 3.0, "retry_delay_seconds": 0.2, "max_deliver": 5}
"""The durable consumer values of every test: the first runtime of a session creates a service's
durables with them, so they must not differ between tests. A short ack wait bounds how long a message
fetched by a runtime that was just stopped waits before it is redelivered."""

INGEST_TOKEN = "tests-ingest-0123456789abcdef"  # noqa: S105 - the tests' own, issued by TOKEN_SETTINGS
READ_TOKEN = "tests-read-0123456789abcdef"  # noqa: S105
WRITE_TOKEN = "tests-write-0123456789abcdef"  # noqa: S105
TOKEN_SETTINGS: dict[str, str] = {
    "ingest_tokens": f"tests:{INGEST_TOKEN}",
    "reports_read_tokens": f"reader:{READ_TOKEN}",
    "reports_write_tokens": f"editor:{WRITE_TOKEN}",
}
"""The access tokens every test runtime issues (settings of ingest and reports; ignored by the others):
``tests`` sends events, ``reader`` reads reviews, ``editor`` changes them."""


PROBE_SETTINGS: dict[str, int] = {"policy_http_port": 0, "reminders_http_port": 0}
"""No probe server in a test's service process (a test that wants one gives a free port)."""


def bearer(secret: str) -> dict[str, str]:
    """The ``Authorization`` header of a request made with this token."""
    return {"authorization": f"Bearer {secret}"}


DEFAULT_STREAM_ROOTS: tuple[tuple[str, str], ...] = (
    (subjects.EVENTS_STREAM, subjects.EVENTS_ROOT),
    (subjects.DECISIONS_STREAM, subjects.DECISIONS_ROOT),
)
"""The streams (and their subject roots) other services consume: the ones a test must clean up."""


# --- settings --------------------------------------------------------------------------------------


def settings_for(settings_class: type[SettingsT], nats_url: str, data_dir: Path, **changes: Any) -> SettingsT:
    """A service's settings for a test: this NATS, this data dir, no MongoDB, the test consumer values."""
    return settings_class(
        nats_url=nats_url,
        data_dir=data_dir,
        mongodb_url=None,
        **{**TOKEN_SETTINGS, **CONSUMER_SETTINGS, **PROBE_SETTINGS, **changes},
    )


def settings_env(settings: CommonSettings) -> dict[str, str]:
    """The environment that gives a service process the same settings as ``settings`` (as far as
    :func:`settings_for` sets them)."""
    return {
        "MAJOROPS_NATS_URL": settings.nats_url,
        "MAJOROPS_DATA_DIR": str(settings.data_dir),
        "MAJOROPS_MONGODB_URL": settings.mongodb_url or "",
        "MAJOROPS_ACK_WAIT_SECONDS": str(settings.ack_wait_seconds),
        "MAJOROPS_RETRY_DELAY_SECONDS": str(settings.retry_delay_seconds),
        "MAJOROPS_MAX_DELIVER": str(settings.max_deliver),
        **{f"MAJOROPS_{name.upper()}": value for name, value in TOKEN_SETTINGS.items()},
        **{
            f"MAJOROPS_{name.upper()}": str(getattr(settings, name, value))
            for name, value in PROBE_SETTINGS.items()
        },
    }


def unused_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (at the moment of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
