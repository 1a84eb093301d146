"""``python -m majorops.policy`` — run policy alone against ``MAJOROPS_NATS_URL`` and its store.

A setting it cannot use (an unknown ``MAJOROPS_TIMEZONE`` or ``MAJOROPS_HOLIDAYS`` code, a
malformed number) stops it at once with one line on stderr and exit status 78 (``EX_CONFIG``):
deadlines computed on a calendar nobody meant would be worse than no service, and a distinct status
tells a supervisor that restarting will not help.
"""

from __future__ import annotations

import asyncio

from majorops.policy.config import SERVICE, PolicySettings
from majorops.shared.settings import load_settings


def main() -> None:
    settings = load_settings(PolicySettings, SERVICE)
    # Imported only now: the broker and database clients take most of the start-up time, and a
    # refusal should not wait for them.
    from majorops.policy.bootstrap import PolicyRuntime
    from majorops.shared.logging import start_logging

    start_logging(SERVICE, settings)
    asyncio.run(PolicyRuntime(settings).run())


if __name__ == "__main__":
    main()
