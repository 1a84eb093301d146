"""``majorops import FILE``: bulk-load past incidents so that repeat detection knows them, resumably.

How policy learns of past incidents: a repeat is an incident whose ``rootcause.identified``
fingerprint equals that of another incident whose root cause was identified earlier, by event
``time`` (CONTRACT §3; ``majorops.policy.domain.repeats``). Policy keeps a fingerprint index of
every incident with a root cause, filled from the events it consumes. So what a past incident must
bring is one ``majorops.rootcause.identified`` event: its incident id, its fingerprint and when it
was identified.

Two inputs:

- **CSV of past incidents** (``.csv``, or ``--format csv``): a header, then one row per past root
  cause — ``incident_id``, ``fingerprint``, ``identified_at`` (RFC 3339 with an offset), optional
  ``summary`` and ``contributing_factors`` (separated by ``;``). Each row becomes one
  ``rootcause.identified`` event with id ``import:<incident_id>:rootcause:<16 hex digits of
  SHA-256 of fingerprint and time>``, so importing the file again only adds duplicates. Only the
  root cause, on purpose: a past critical incident sent with its declaration and close but without
  its After Action events would be a backdated mandatory review never scheduled — reminders would
  fire every escalation level for it at once (CONTRACT §4), paging people about history. An
  incident with a root cause alone is ``not_required`` and owes nothing.
- **JSON Lines of CloudEvents** (any other name, or ``--format jsonl``): a past incident's whole
  record, exported from another system, exactly as ``majorops send`` takes it. The escalation
  caveat above applies to what it holds.

Resumable: after each batch ingest settled, a checkpoint (``<data-dir>/imports/<file name>.<12 hex
digits of its path's SHA-256>.json``, or ``--checkpoint``) records the byte offset and line reached,
the counts so far and a SHA-256 of the file up to that offset. A run that stops (Ctrl-C, SIGTERM,
ingest down) continues from there the next time; if the file changed before that point it starts
over (what was sent already counts as duplicates), and lines appended since are sent on the next
run. ``--restart`` ignores the checkpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from majorops.cli.credentials import write_private
from majorops.cli.delivery import EventSender, Tally, deliver, jsonl_events, status_of, summary_lines
from majorops.cli.past_incidents import DEFAULT_SOURCE, Position, csv_events
from majorops.cli.progress import Progress
from majorops.cli.send import (
    INGEST_WHERE,
    add_ingest_arguments,
    batch_limits,
    ingest_service,
    open_input,
    report,
)
from majorops.cli.system_access import (
    EXIT_DATAERR,
    EXIT_INTERRUPTED,
    EXIT_NOINPUT,
    EXIT_NOPERM,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CommandFailed,
    command_epilog,
    data_dir_of,
    run_command,
)

CHECKPOINT_VERSION = 1


# --- checkpoint --------------------------------------------------------------------------------------


class PrefixDigest:
    """SHA-256 of a file's first bytes, extended as the import goes on (the file is read a second
    time for it, which the page cache makes cheap)."""

    def __init__(self, path: Path) -> None:
        try:
            self.handle = path.open("rb")
        except OSError as exc:
            raise CommandFailed(EXIT_NOINPUT, f"cannot read {path}: {exc.strerror}") from None
        self.hash = hashlib.sha256()
        self.offset = 0

    def at(self, offset: int) -> str:
        while self.offset < offset:
            chunk = self.handle.read(min(1 << 20, offset - self.offset))
            if not chunk:
                break
            self.hash.update(chunk)
            self.offset += len(chunk)
        return self.hash.hexdigest()

    def close(self) -> None:
        self.handle.close()


def checkpoint_path(args: argparse.Namespace, path: Path) -> Path:
    if args.checkpoint is not None:
        return Path(args.checkpoint)
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    return data_dir_of(args) / "imports" / f"{path.name}.{key}.json"


def load_checkpoint(where: Path, path: Path, input_format: str, digest: PrefixDigest) -> Tally | None:
    """The tally a previous run got to, if its checkpoint is for this file, unchanged up to there."""
    try:
        saved = json.loads(where.read_text())
        if saved.get("version") != CHECKPOINT_VERSION or saved.get("format") != input_format:
            return None
        tally = Tally.from_json(saved["tally"])
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"majorops import: ignoring the checkpoint {where}: {exc}", file=sys.stderr)
        return None
    if tally.offset > size or digest.at(tally.offset) != saved.get("sha256"):
        print(
            f"majorops import: {path} changed before line {tally.line} since the checkpoint: starting "
            "over (events sent before count as duplicates)",
            file=sys.stderr,
        )
        return None
    return tally


def save_checkpoint(where: Path, path: Path, input_format: str, tally: Tally, digest: PrefixDigest) -> None:
    where.parent.mkdir(parents=True, exist_ok=True)
    saved = {
        "version": CHECKPOINT_VERSION,
        "file": str(path.resolve()),
        "format": input_format,
        "sha256": digest.at(tally.offset),
        "saved_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "tally": tally.as_json(),
    }
    write_private(where, json.dumps(saved, ensure_ascii=False, indent=1) + "\n")


# --- the command ---------------------------------------------------------------------------------------

DESCRIPTION = """\
Bulk-load past incidents so that repeat detection knows them. Policy calls an incident a repeat when
its root-cause fingerprint (majorops.rootcause.identified) equals one identified earlier for another
incident, so a past incident needs just that event. FILE is either

  a CSV of past incidents (FILE.csv or --format csv): a header, then one row per past root cause,
    incident_id,fingerprint,identified_at[,summary][,contributing_factors]
    INC-0917,db-pool-exhaustion,2025-03-02T14:20:00Z,Pool exhausted by batch job,batch job;no limit
  identified_at is RFC 3339 with an offset; contributing_factors are separated by ';'. Each row
  becomes one rootcause.identified event (id import:<incident_id>:rootcause:<hash of fingerprint
  and time>). Only the root cause, on purpose: a past P1 imported as declared and closed, without its
  After Action events, would owe a review never scheduled, and reminders would fire every level of
  that escalation at once.
or
  JSON Lines of CloudEvents (any other name, or --format jsonl): whole past records as `majorops
  send` takes them (the same caveat applies to what they hold).

Resumable: after each batch ingest settled, a checkpoint records how far the file was sent (and a
SHA-256 of it up to there). Run the same command again after an interruption (Ctrl-C, SIGTERM,
ingest unreachable) and it continues where it stopped; if the file changed before that point, it
starts over (events sent before count as duplicates, so nothing is doubled). Lines appended later are
sent by the next run; --restart ignores the checkpoint. Bad rows are reported with their line numbers
and reasons, as by `majorops send`; the summary (and --json's object, which adds "checkpoint" and
"resumed_from_line") covers the whole file, this run and the earlier ones."""

IMPORT_STATUSES = (EXIT_USAGE, EXIT_DATAERR, EXIT_NOINPUT, EXIT_UNAVAILABLE, EXIT_NOPERM, EXIT_INTERRUPTED)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "import",
        help="bulk-load past incidents (CSV of root causes, or JSON Lines of events), resumably",
        description=DESCRIPTION,
        epilog=command_epilog(
            "some rows were rejected, in this run or an earlier one",
            IMPORT_STATUSES,
            [
                *INGEST_WHERE,
                "  checkpoint    --checkpoint, else <data-dir>/imports/<file name>.<hash of its path>.json",
            ],
            note="\n  (after 69 or 130 the checkpoint is kept: run the same command again to go on)",
        ),
    )
    parser.add_argument("file", metavar="FILE", help="a CSV of past incidents, or JSON Lines of CloudEvents")
    parser.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        help="the input's format (default: csv for a .csv file, else jsonl)",
    )
    parser.add_argument("--checkpoint", type=Path, metavar="PATH", help="where to keep the progress")
    parser.add_argument(
        "--restart", action="store_true", help="ignore the checkpoint and send the whole file"
    )
    parser.add_argument(
        "--source",
        default=DEFAULT_SOURCE,
        help="the CloudEvents source of the events made from CSV rows (default: %(default)s)",
    )
    add_ingest_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return run_command("import", lambda: import_history(args))


def import_history(args: argparse.Namespace) -> int:
    if args.file == "-":
        raise CommandFailed(
            EXIT_USAGE,
            "import resumes by file offset, so it reads a file: for a stream use `majorops send -`",
        )
    path = Path(args.file)
    input_format = args.format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    max_events, max_bytes = batch_limits(args.batch_size)
    service = ingest_service(args)
    handle, name, size = open_input(args.file)
    where = checkpoint_path(args, path)
    digest = PrefixDigest(path)
    with handle, service.client() as client:
        resumed = None if args.restart else load_checkpoint(where, path, input_format, digest)
        if resumed is None:
            digest = _fresh(digest, path)
        tally = resumed or Tally()
        resumed_from = None if resumed is None else tally.line
        if input_format == "csv":
            inputs = csv_events(handle, name, args.source, Position(tally.line, tally.offset))
        else:
            handle.seek(tally.offset)
            inputs = jsonl_events(handle, max_bytes, tally.line, tally.offset)
        about = {"source": name, "checkpoint": str(where), "resumed_from_line": resumed_from}
        lines = (
            []
            if resumed_from is None
            else [f"resuming {name} after line {resumed_from} (checkpoint {where})"]
        )
        progress = Progress(f"importing {name}", size)
        progress.update(tally.offset)
        try:
            interrupted = deliver(
                EventSender(service, client),
                inputs,
                (max_events, max_bytes),
                tally,
                progress,
                lambda settled: save_checkpoint(where, path, input_format, settled, digest),
            )
        except CommandFailed as failed:
            if tally.line:  # how far it got, before the reason on stderr
                report(args.json, about, [*lines, *summary_lines(name, tally, False)], tally, False)
                failed.message += (
                    f"; the checkpoint is kept: run the same command again to go on after line {tally.line}"
                )
            raise
        finally:
            digest.close()
    if resumed_from is not None and tally.line == resumed_from:
        lines.append(f"nothing new after line {tally.line}: the whole file was sent before")
    lines += summary_lines(name, tally, interrupted)
    if interrupted:
        lines.append(f"the checkpoint is kept ({where}): run the same command again to go on")
    report(args.json, about, lines, tally, interrupted)
    return status_of(tally, interrupted)


def _fresh(digest: PrefixDigest, path: Path) -> PrefixDigest:
    """A digest from the file's start (checking a checkpoint may have read ahead)."""
    if digest.offset == 0:
        return digest
    digest.close()
    return PrefixDigest(path)
