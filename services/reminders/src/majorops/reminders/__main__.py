"""``python -m majorops.reminders`` — run reminders alone against ``MAJOROPS_NATS_URL`` and its store.

A setting it cannot use (an unreadable ``MAJOROPS_ESCALATION_INTERVAL``, an unknown time zone)
stops it at once with one line on stderr and exit status 78: running on a default would escalate
at the wrong time, or never.
"""

from __future__ import annotations

import asyncio

from majorops.reminders.config import SERVICE, RemindersSettings
from majorops.shared.logging import start_logging
from majorops.shared.settings import load_settings


def main() -> None:
    settings = load_settings(RemindersSettings, SERVICE)
    start_logging(SERVICE, settings)
    # Imported once the settings are known to be good: a refusal answers at once, without loading
    # the broker, the store drivers and the HTTP client first.
    from majorops.reminders.bootstrap import RemindersRuntime

    asyncio.run(RemindersRuntime(settings).run())


if __name__ == "__main__":
    main()
