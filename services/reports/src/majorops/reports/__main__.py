"""``python -m majorops.reports`` — run reports alone against ``MAJOROPS_NATS_URL`` and its store."""

from __future__ import annotations

from majorops.reports.bootstrap import create_app
from majorops.reports.config import SERVICE, ReportsSettings
from majorops.shared.heartbeat import Watchdog
from majorops.shared.lifecycle import serve_http
from majorops.shared.logging import start_logging
from majorops.shared.settings import load_settings


def main() -> None:
    settings = load_settings(ReportsSettings, SERVICE)
    start_logging(SERVICE, settings)
    app = create_app(settings)
    # A loop that cannot recover (a consumer, the assembler) ends the process, for a fresh one.
    Watchdog(app.state.runtime.telemetry.heartbeats).start()
    serve_http(app, settings.reports_host, settings.reports_port, settings)


if __name__ == "__main__":
    main()
