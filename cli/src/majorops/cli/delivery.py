"""Delivering events to ingest's ``POST /v1/events`` in batches, and what became of each line: the
engine of ``majorops send`` and ``majorops import`` (:mod:`majorops.cli.history`).

Batches respect ingest's limits (1000 events, 1 MiB a request). Ingest takes a batch all or
nothing, so a refused batch is not the end of it, and no good line is held back by a bad one:

- a ``422`` (invalid events) or ``409`` (an id reused with other content) names every bad event by
  its index: those lines are reported with ingest's reasons, and the rest of the batch is sent
  again at once (one more request, not one per event);
- a refusal that names no event (``400``: one line is not the strict JSON ingest reads, such as a
  repeated key; ``413``) is bisected: each half is sent on its own until the line at fault stands
  alone and is reported with ingest's reason;
- a line that is not JSON at all, not an object or larger than a request may be is reported
  without being sent (parsed by the same strict rules ingest applies).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from majorops.cli.progress import Progress
from majorops.cli.system_access import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_UNAVAILABLE,
    CommandFailed,
    HttpService,
    problem_detail,
    problem_of,
)

if TYPE_CHECKING:
    import httpx

EVENTS_PATH = "/v1/events"
REFUSALS = frozenset({400, 409, 413, 422})
"""Answers that refuse a batch for its content: the lines at fault are found and the rest sent."""
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class InputEvent:
    """One event read from the input, where it was, and (if it cannot be sent) why."""

    line: int
    """Its line number in the input (for a CSV row, its first line)."""
    end: int
    """The byte offset just after it in the input: where a resumed run goes on."""
    body: bytes | None
    """The envelope as JSON, as sent; None when it is refused without sending."""
    event_id: str | None = None
    refused: str | None = None
    field_names: Mapping[str, str] = field(default_factory=dict)
    """Envelope field → what the input calls it (a CSV column), for the reasons reported."""


@dataclass(frozen=True)
class Rejection:
    """A line that did not go in, and why (ingest's own words where ingest refused it)."""

    line: int
    event_id: str | None
    reason: str
    errors: tuple[dict[str, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "id": self.event_id, "reason": self.reason, "errors": list(self.errors)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Rejection:
        return cls(
            int(value["line"]),
            value.get("id"),
            str(value["reason"]),
            tuple({str(k): str(v) for k, v in error.items()} for error in value.get("errors", ())),
        )

    def text(self) -> str:
        shown = f" (id {self.event_id!r})" if self.event_id is not None else ""
        return f"line {self.line}{shown}: {self.reason}"


@dataclass
class Tally:
    """What became of the lines read so far."""

    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    line: int = 0
    """The last line settled."""
    offset: int = 0
    """The byte offset after it."""

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [rejection.as_json() for rejection in sorted(self.rejected, key=lambda r: r.line)],
            "line": self.line,
            "offset": self.offset,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Tally:
        return cls(
            events=int(value["events"]),
            accepted=int(value["accepted"]),
            duplicates=int(value["duplicates"]),
            rejected=[Rejection.from_json(item) for item in value["rejected"]],
            line=int(value["line"]),
            offset=int(value["offset"]),
        )

    def counts(self) -> str:
        return (
            f"{self.events} event(s): {self.accepted} accepted, {self.duplicates} duplicate(s), "
            f"{len(self.rejected)} rejected"
        )


# --- reading -----------------------------------------------------------------------------------------


def read_event(text: bytes, line: int, end: int, max_bytes: int) -> InputEvent:
    """One line's event: checked as strict JSON (ingest's rules), an object, small enough to send."""
    from majorops.shared.json_body import JsonRefused, loads_strict

    if len(text) + 2 > max_bytes:
        return InputEvent(
            line, end, None, refused=f"{len(text)} bytes: more than one request to ingest may carry"
        )
    try:
        value = loads_strict(text)
    except JsonRefused as exc:
        return InputEvent(line, end, None, refused=f"not JSON: {exc.reason}")
    if not isinstance(value, dict):
        return InputEvent(line, end, None, refused="not a JSON object: one CloudEvents envelope per line")
    event_id = value.get("id")
    return InputEvent(line, end, text, event_id if isinstance(event_id, str) else None)


def jsonl_events(handle: IO[bytes], max_bytes: int, line: int = 0, offset: int = 0) -> Iterator[InputEvent]:
    """The events of a JSON Lines input read from ``offset`` (the byte after ``line``); blank lines
    are skipped."""
    for raw in handle:
        line += 1
        offset += len(raw)
        text = raw.strip()
        if offset == len(raw) and text.startswith(UTF8_BOM):
            text = text[len(UTF8_BOM) :].strip()
        if text:
            yield read_event(text, line, offset, max_bytes)


def batches(inputs: Iterable[InputEvent], max_events: int, max_bytes: int) -> Iterator[list[InputEvent]]:
    """Consecutive input events in groups whose events fit one request (``[`` + bodies joined by ``,`` +
    ``]``); refused ones travel in the group where they were read, so that it ends where the
    input was read up to."""
    batch: list[InputEvent] = []
    size = 2
    for item in inputs:
        extra = len(item.body) + 1 if item.body is not None else 0
        if batch and size + extra > max_bytes:
            yield batch
            batch, size = [], 2
        batch.append(item)
        size += extra
        if len(batch) >= max_events:
            yield batch
            batch, size = [], 2
    if batch:
        yield batch


# --- sending -----------------------------------------------------------------------------------------


@dataclass
class EventSender:
    """Posts arrays of envelopes to ingest."""

    service: HttpService
    client: httpx.Client

    def post(self, bodies: Sequence[bytes]) -> httpx.Response:
        return self.service.call(
            self.client,
            "POST",
            EVENTS_PATH,
            content=b"[" + b",".join(bodies) + b"]",
            headers={"content-type": "application/json"},
        )


def _renamed(name: str, field_names: Mapping[str, str]) -> str:
    for envelope_field, own in field_names.items():
        if name == envelope_field or name.startswith((f"{envelope_field}.", f"{envelope_field}[")):
            return own + name[len(envelope_field) :]
    return name


def rejection_of(item: InputEvent, errors: Sequence[Mapping[str, Any]], detail: str) -> Rejection:
    named = tuple(
        {
            "field": _renamed(str(error.get("field", "")), item.field_names),
            "message": str(error.get("message", "")),
        }
        for error in errors
    )
    reason = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in named)
    return Rejection(item.line, item.event_id, reason or detail, named)


def settle(sender: EventSender, inputs: Sequence[InputEvent], tally: Tally) -> None:
    """Send the input events until each is accepted, a duplicate, or rejected with its reason."""
    while inputs:
        response = sender.post([item.body for item in inputs if item.body is not None])
        if response.status_code == 202:
            answer = response.json()
            tally.accepted += int(answer.get("accepted", 0))
            tally.duplicates += int(answer.get("duplicates", 0))
            return
        if response.status_code not in REFUSALS:
            raise CommandFailed(
                EXIT_UNAVAILABLE,
                f"ingest at {sender.service.base_url} answered {response.status_code}: {problem_detail(response)}",
            )
        problem = problem_of(response)
        errors = [e for e in problem.get("errors") or () if isinstance(e, dict)]
        by_index: dict[int, list[dict[str, Any]]] = {}
        for error in errors:
            index = error.get("index")
            if isinstance(index, int) and 0 <= index < len(inputs):
                by_index.setdefault(index, []).append(error)
        if by_index:
            tally.rejected.extend(
                rejection_of(inputs[index], found, problem_detail(response))
                for index, found in by_index.items()
            )
            inputs = [item for index, item in enumerate(inputs) if index not in by_index]
            continue
        if len(inputs) == 1:
            tally.rejected.append(rejection_of(inputs[0], errors, problem_detail(response)))
            return
        half = len(inputs) // 2
        settle(sender, inputs[:half], tally)
        settle(sender, inputs[half:], tally)
        return


class Interrupted(Exception):
    """SIGTERM, handled like Ctrl-C."""


@contextmanager
def interruptible() -> Iterator[None]:
    """Within: SIGTERM raises :class:`Interrupted`, so the work stops between two statements and
    the command can say how far it got."""

    def on_term(_signum: int, _frame: Any) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def deliver(
    sender: EventSender,
    inputs: Iterable[InputEvent],
    limits: tuple[int, int],
    tally: Tally,
    progress: Progress,
    settled: Callable[[Tally], None] | None = None,
) -> bool:
    """Settle the input events in :func:`batches` within ``limits`` (events, bytes a request), one
    batch after the other (``settled`` is told after each); True when interrupted midway."""
    try:
        with interruptible():
            for group in batches(inputs, *limits):
                settle(sender, [item for item in group if item.body is not None], tally)
                tally.rejected.extend(
                    Rejection(item.line, item.event_id, item.refused)
                    for item in group
                    if item.refused is not None
                )
                tally.events += len(group)
                tally.line, tally.offset = group[-1].line, group[-1].end
                if settled is not None:
                    settled(tally)
                progress.update(tally.offset, f"line {tally.line}: {tally.counts()}")
    except (KeyboardInterrupt, Interrupted):
        return True
    finally:
        progress.close()
    return False


def status_of(tally: Tally, interrupted: bool) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL if tally.rejected else EXIT_OK


def summary_lines(source: str, tally: Tally, interrupted: bool) -> list[str]:
    lines = [f"{source}: {tally.counts()}"]
    lines += [f"  {rejection.text()}" for rejection in sorted(tally.rejected, key=lambda r: r.line)]
    if interrupted:
        lines.append(f"interrupted after line {tally.line}: the lines after it were not sent")
    return lines
