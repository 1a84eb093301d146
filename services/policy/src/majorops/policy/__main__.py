"""``python -m majorops.policy`` — run policy alone against ``MAJOROPS_NATS_URL`` and its store."""

from __future__ import annotations

import asyncio

from majorops.policy.app import SERVICE, PolicyRuntime
from majorops.policy.config import PolicySettings
from majorops.shared.logging import configure_logging


def main() -> None:
    settings = PolicySettings()
    configure_logging(SERVICE, settings.log_level, settings.replica)
    asyncio.run(PolicyRuntime(settings).run())


if __name__ == "__main__":
    main()
