"""A CSV of past incidents (``majorops import``): one row per past root cause, each made into the
``rootcause.identified`` event that lets repeat detection know the incident.

Columns ``incident_id``, ``fingerprint``, ``identified_at`` (RFC 3339 with an offset), optional
``summary`` and ``contributing_factors`` (separated by ``;``). Each row's event has the id
``import:<incident_id>:rootcause:<16 hex digits of SHA-256 of fingerprint and time>``, so importing
the file again only adds duplicates.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from majorops.cli.delivery import UTF8_BOM, InputEvent
from majorops.cli.system_access import EXIT_DATAERR, CommandFailed

REQUIRED_COLUMNS = ("incident_id", "fingerprint", "identified_at")
OPTIONAL_COLUMNS = ("summary", "contributing_factors")
FACTOR_SEPARATOR = ";"
DEFAULT_SOURCE = "majorops/import"
ROOT_CAUSE_TYPE = "majorops.rootcause.identified"
COLUMN_OF_FIELD = {
    "subject": "incident_id",
    "time": "identified_at",
    "data.fingerprint": "fingerprint",
    "data.summary": "summary",
    "data.contributing_factors": "contributing_factors",
}
"""Ingest names the envelope's fields; a CSV row's reasons name its columns."""


def root_cause_event(row: Mapping[str, str], source: str) -> dict[str, Any]:
    """The ``rootcause.identified`` event of one past incident's row."""
    incident, fingerprint, at = (row[column] for column in REQUIRED_COLUMNS)
    digest = hashlib.sha256(f"{fingerprint}\n{at}".encode()).hexdigest()[:16]
    data: dict[str, Any] = {"fingerprint": fingerprint}
    if row.get("summary"):
        data["summary"] = row["summary"]
    factors = [f.strip() for f in row.get("contributing_factors", "").split(FACTOR_SEPARATOR) if f.strip()]
    if factors:
        data["contributing_factors"] = factors
    return {
        "specversion": "1.0",
        "id": f"import:{incident}:rootcause:{digest}",
        "source": source,
        "type": ROOT_CAUSE_TYPE,
        "time": at,
        "subject": incident,
        "datacontenttype": "application/json",
        "data": data,
    }


def row_event(cells: list[str], columns: list[str], line: int, end: int, source: str) -> InputEvent:
    def refused(why: str) -> InputEvent:
        return InputEvent(line, end, None, refused=why)

    if len(cells) > len(columns):
        return refused(f"{len(cells)} cells, but the header names {len(columns)} columns")
    if any("\udc80" <= ch <= "\udcff" for cell in cells for ch in cell):
        return refused("not UTF-8")
    row = {column: cell.strip() for column, cell in zip(columns, cells, strict=False)}
    empty = [column for column in REQUIRED_COLUMNS if not row.get(column)]
    if empty:
        return refused(f"{', '.join(empty)}: empty (required)")
    event = root_cause_event(row, source)
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    return InputEvent(line, end, body, event["id"], field_names=COLUMN_OF_FIELD)


def csv_columns(header: list[str] | None, name: str) -> list[str]:
    """The header's column names, checked: every required one, nothing unknown, none twice."""
    if header is None:
        raise CommandFailed(EXIT_DATAERR, f"{name} is empty: a CSV of past incidents starts with a header")
    columns = [cell.strip().lower() for cell in header]
    known = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in known]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if missing or unknown or twice:
        said = [
            *([f"missing {', '.join(missing)}"] if missing else []),
            *([f"unknown {', '.join(repr(c) for c in unknown)}"] if unknown else []),
            *([f"repeated {', '.join(twice)}"] if twice else []),
        ]
        raise CommandFailed(
            EXIT_DATAERR,
            f"{name}: the CSV header has {'; '.join(said)} (columns: {', '.join(REQUIRED_COLUMNS)}, "
            f"optional {', '.join(OPTIONAL_COLUMNS)})",
        )
    return columns


@dataclass
class Position:
    line: int = 0
    offset: int = 0


def csv_events(
    handle: IO[bytes], name: str, source: str, resume: Position | None = None
) -> Iterator[InputEvent]:
    """The rows of a CSV of past incidents as events; the header is always read, then the rows from
    ``resume`` on."""
    at = Position()

    def lines() -> Iterator[str]:
        for raw in handle:
            at.line += 1
            at.offset += len(raw)
            text = raw[len(UTF8_BOM) :] if at.offset == len(raw) and raw.startswith(UTF8_BOM) else raw
            yield text.decode("utf-8", "surrogateescape")

    reader = csv.reader(lines())
    columns = csv_columns(next(reader, None), name)
    if resume is not None and resume.offset > at.offset:
        handle.seek(resume.offset)
        at.line, at.offset = resume.line, resume.offset
    while True:
        first = at.line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield InputEvent(first, at.offset, None, refused=f"not CSV: {exc}")
            continue
        if any(cell.strip() for cell in cells):
            yield row_event(cells, columns, first, at.offset, source)
