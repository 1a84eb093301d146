"""``python -m majorops.reports`` — run reports alone against ``MAJOROPS_NATS_URL`` and its store."""

from __future__ import annotations

import uvicorn

from majorops.reports.app import SERVICE, create_app
from majorops.reports.config import ReportsSettings
from majorops.shared.logging import configure_logging
from majorops.shared.settings import load_settings


def main() -> None:
    settings = load_settings(ReportsSettings, SERVICE)
    configure_logging(SERVICE, settings.log_level, settings.replica)
    uvicorn.run(
        create_app(settings),
        host=settings.reports_host,
        port=settings.reports_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
