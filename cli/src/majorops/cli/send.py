"""``majorops send FILE|-``: post CloudEvents envelopes, one JSON object per line, to ingest's
``POST /v1/events`` in batches, and say what became of each line.

How batches are sent, and how a refused one is taken apart so that no good line is held back by a
bad one, is :mod:`majorops.cli.delivery` (the engine ``majorops import`` drives too).

Sending again is harmless: an event id already accepted counts as a duplicate. A service that is
unreachable or answers ``5xx``/``429`` is retried for ``--retry-for`` seconds, then the command
stops with exit status 69 and says how far it got.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from majorops.cli.delivery import EventSender, Tally, deliver, jsonl_events, status_of, summary_lines
from majorops.cli.progress import Progress
from majorops.cli.system_access import (
    EXIT_INTERRUPTED,
    EXIT_NOINPUT,
    EXIT_NOPERM,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    INGEST_TOKEN,
    CommandFailed,
    HttpService,
    add_http_arguments,
    command_epilog,
    data_dir_of,
    ingest_url,
    print_json,
    required_secret,
    run_command,
    write_lines,
)


def batch_limits(batch_size: int | None) -> tuple[int, int]:
    """Events and bytes per request: ingest's limits (``--batch-size`` may lower the first)."""
    from majorops.ingest.domain.batch import MAX_BATCH, MAX_BODY_BYTES

    if batch_size is None:
        return MAX_BATCH, MAX_BODY_BYTES
    if not 1 <= batch_size <= MAX_BATCH:
        raise CommandFailed(
            EXIT_USAGE, f"--batch-size must be 1..{MAX_BATCH} (ingest's limit), got {batch_size}"
        )
    return batch_size, MAX_BODY_BYTES


def ingest_service(args: argparse.Namespace) -> HttpService:
    token = required_secret(INGEST_TOKEN, args.token, data_dir_of(args))
    return HttpService("ingest", ingest_url(args), token, args.retry_for)


def open_input(name: str) -> tuple[IO[bytes], str, int | None]:
    """The input (``-``: stdin), its name for the summary and its size when known."""
    if name == "-":
        return sys.stdin.buffer, "stdin", None
    path = Path(name)
    try:
        handle = path.open("rb")
        size = path.stat().st_size if path.is_file() else None
    except OSError as exc:
        raise CommandFailed(EXIT_NOINPUT, f"cannot read {name}: {exc.strerror}") from None
    return handle, name, size


# --- the command ---------------------------------------------------------------------------------------

DESCRIPTION = """\
Post events to ingest (POST /v1/events): FILE holds one CloudEvents envelope per line (JSON Lines,
the contract's envelope; blank lines skipped), - reads stdin. Events go in batches within ingest's
limits (1000 events, 1 MiB). A batch ingest refuses is not lost: the events it names as invalid
(422) or as reusing an id with other content (409) are reported and the rest is sent again at once;
a refusal naming no event (400: a line is not strict JSON, e.g. a repeated key) is bisected until
the line at fault stands alone. So every good line goes in, and every bad one is reported with its
line number and ingest's reason. Sending a file again is harmless: events already accepted count
as duplicates.

Prints a summary (accepted, duplicates, rejected lines with their reasons); --json prints it as one
JSON object: {"source", "events", "accepted", "duplicates", "rejected": [{"line", "id", "reason",
"errors": [{"field", "message"}]}], "line", "offset", "interrupted"}. A progress bar is drawn on
stderr when stderr is a terminal."""


INGEST_WHERE = (
    "  ingest URL    --ingest-url, $MAJOROPS_INGEST_URL, http://127.0.0.1:$MAJOROPS_INGEST_PORT (8080)",
    "  token         --token, $MAJOROPS_INGEST_TOKEN, $INGEST_TOKEN, INGEST_TOKEN in <data-dir>/credentials.env",
)
"""Where the commands that send to ingest (``send``, ``import``) find it and its token, as --help says."""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "send",
        help="post events (JSON Lines of CloudEvents) to ingest, in batches, reporting each bad line",
        description=DESCRIPTION,
        epilog=command_epilog("some lines were rejected (the others went in)", SEND_STATUSES, INGEST_WHERE),
    )
    parser.add_argument("file", metavar="FILE", help="JSON Lines of CloudEvents envelopes; - for stdin")
    add_ingest_arguments(parser)
    parser.set_defaults(run=run)


SEND_STATUSES = (EXIT_USAGE, EXIT_NOINPUT, EXIT_UNAVAILABLE, EXIT_NOPERM, EXIT_INTERRUPTED)


def add_batch_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="events per request, 1..1000 (default: 1000, ingest's limit; requests also stay under 1 MiB)",
    )


def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a command that sends events to ingest (``send``, ``import``): --batch-size,
    where ingest is and its token."""
    add_batch_argument(parser)
    add_http_arguments(parser, "ingest", INGEST_TOKEN)


def run(args: argparse.Namespace) -> int:
    return run_command("send", lambda: send(args))


def send(args: argparse.Namespace) -> int:
    limits = batch_limits(args.batch_size)
    service = ingest_service(args)
    handle, source, size = open_input(args.file)
    tally = Tally()
    with service.client() as client, handle:
        inputs = jsonl_events(handle, limits[1])
        try:
            interrupted = deliver(
                EventSender(service, client), inputs, limits, tally, Progress(f"sending {source}", size)
            )
        except CommandFailed:
            if tally.line:  # how far it got, before the reason on stderr
                report(args.json, {"source": source}, summary_lines(source, tally, False), tally, False)
            raise
    report(args.json, {"source": source}, summary_lines(source, tally, interrupted), tally, interrupted)
    return status_of(tally, interrupted)


def report(
    as_json: bool, about: Mapping[str, Any], lines: Sequence[str], tally: Tally, interrupted: bool
) -> None:
    """The summary on stdout: ``lines`` for people, one JSON object (``about`` + the tally) with --json."""
    if as_json:
        print_json({**about, **tally.as_json(), "interrupted": interrupted})
    else:
        write_lines(lines)
