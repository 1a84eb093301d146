"""``majorops review ID``: an incident's Learning Review from reports, as Markdown (default), a
standalone HTML page or JSON (``GET /v1/reviews/{id}``, ``.md``, ``.html``), with a read token."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any
from urllib.parse import quote

from majorops.cli.system_access import (
    EXIT_NOPERM,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    REPORTS_READ_TOKEN,
    CommandFailed,
    HttpService,
    add_http_arguments,
    command_epilog,
    data_dir_of,
    problem_detail,
    problem_slug,
    reports_url,
    required_secret,
    run_command,
)

SUFFIXES = {"md": ".md", "html": ".html", "json": ""}
UNKNOWN_INCIDENT = "unknown-incident"
POLL_SECONDS = 0.5

DESCRIPTION = """\
Print an incident's Learning Review as reports assembles it: Markdown (the default), a standalone
HTML page (--format html, every text escaped) or JSON (--format json, or --json: the document of
GET /v1/reviews/{id}, as served). The review exists moments after the incident's first event
reached reports; --wait keeps asking until it does."""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "review",
        help="print an incident's Learning Review (Markdown, HTML or JSON)",
        description=DESCRIPTION,
        epilog=command_epilog(
            "no review of that incident (none of its events reached reports)",
            (EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_NOPERM),
            [
                "  reports URL   --reports-url, $MAJOROPS_REPORTS_URL, http://127.0.0.1:$MAJOROPS_REPORTS_PORT (8081)",
                "  token         --token, $MAJOROPS_REPORTS_READ_TOKEN, $REPORTS_READ_TOKEN, REPORTS_READ_TOKEN "
                "in <data-dir>/credentials.env",
            ],
        ),
    )
    parser.add_argument("incident_id", metavar="ID", help="the incident id (the events' subject)")
    parser.add_argument("--format", choices=tuple(SUFFIXES), default="md", help="default: %(default)s")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="while the incident has no review yet, ask again for up to this long (default: 0)",
    )
    add_http_arguments(parser, "reports", REPORTS_READ_TOKEN)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return run_command("review", lambda: print_review(args))


def print_review(args: argparse.Namespace) -> int:
    token = required_secret(REPORTS_READ_TOKEN, args.token, data_dir_of(args))
    service = HttpService("reports", reports_url(args), token, args.retry_for)
    suffix = SUFFIXES["json" if args.json else args.format]
    path = f"/v1/reviews/{quote(args.incident_id, safe='')}{suffix}"
    deadline = time.monotonic() + args.wait
    with service.client() as client:
        while True:
            response = service.call(client, "GET", path)
            if response.status_code == 200:
                text = response.text
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
                return EXIT_OK
            if response.status_code != 404 or problem_slug(response) != UNKNOWN_INCIDENT:
                raise CommandFailed(
                    EXIT_UNAVAILABLE,
                    f"reports at {service.base_url} answered {response.status_code} for {path}: "
                    f"{problem_detail(response)}",
                )
            if time.monotonic() + POLL_SECONDS > deadline:
                raise CommandFailed(
                    EXIT_PARTIAL, f"no review of {args.incident_id}: {problem_detail(response)}"
                )
            time.sleep(POLL_SECONDS)
