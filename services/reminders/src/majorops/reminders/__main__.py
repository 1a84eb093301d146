"""``python -m majorops.reminders`` — run reminders alone against ``MAJOROPS_NATS_URL`` and its store."""

from __future__ import annotations

import asyncio

from majorops.reminders.app import SERVICE, RemindersRuntime
from majorops.reminders.config import RemindersSettings
from majorops.shared.logging import configure_logging


def main() -> None:
    settings = RemindersSettings()
    configure_logging(SERVICE, settings.log_level, settings.replica)
    asyncio.run(RemindersRuntime(settings).run())


if __name__ == "__main__":
    main()
