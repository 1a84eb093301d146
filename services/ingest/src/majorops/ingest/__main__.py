"""``python -m majorops.ingest`` — run ingest alone against ``MAJOROPS_NATS_URL``."""

from __future__ import annotations

from majorops.ingest.bootstrap import SERVICE, create_app
from majorops.ingest.config import IngestSettings
from majorops.shared.lifecycle import serve_http
from majorops.shared.logging import start_logging
from majorops.shared.settings import load_settings


def main() -> None:
    settings = load_settings(IngestSettings, SERVICE)
    start_logging(SERVICE, settings)
    serve_http(create_app(settings), settings.ingest_host, settings.ingest_port, settings)


if __name__ == "__main__":
    main()
