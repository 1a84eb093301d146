"""``python -m majorops.ingest`` — run ingest alone against ``MAJOROPS_NATS_URL``."""

from __future__ import annotations

import uvicorn

from majorops.ingest.app import SERVICE, create_app
from majorops.ingest.config import IngestSettings
from majorops.shared.logging import configure_logging
from majorops.shared.settings import load_settings


def main() -> None:
    settings = load_settings(IngestSettings, SERVICE)
    configure_logging(SERVICE, settings.log_level, settings.replica)
    uvicorn.run(
        create_app(settings),
        host=settings.ingest_host,
        port=settings.ingest_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
