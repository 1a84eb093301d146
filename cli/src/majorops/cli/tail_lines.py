"""What ``majorops tail`` follows and how it prints each message: one line per escalation, decision,
heads-up reminder or event (``--json`` prints the message as published instead).

Kept apart from :mod:`majorops.cli.tail`, which connects, follows and reconnects, so that changing a
line's wording never touches how the stream is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def _escalation_line(m: Mapping[str, Any]) -> str:
    notify = m.get("notify") or {}
    who = str(notify.get("role", "?")) + (f" ({notify['person']})" if notify.get("person") else "")
    kind = str(m.get("kind")) + (f"[{m['item']}]" if m.get("item") else "")
    marks = [
        *(["late"] if m.get("late") else []),
        *(
            [f"superseded by level {str(m['superseded_by']).rsplit(':', 1)[-1]}"]
            if m.get("superseded_by")
            else []
        ),
        *([f"met at {m['met_at']}"] if m.get("met_at") else []),
    ]
    shown = f" [{', '.join(marks)}]" if marks else ""
    return (
        f"{m.get('fired_at')}  {m.get('incident_id')}  {kind} level {m.get('level')} -> {who}{shown}: "
        f"{m.get('message')}"
    )


def _decision_line(m: Mapping[str, Any]) -> str:
    rules = ", ".join(str(reason.get("rule")) for reason in m.get("reasons") or ())
    deadlines = m.get("deadlines") or {}
    due = " ".join(f"{name}={at}" for name, at in deadlines.items() if at)
    duration = m.get("duration_seconds")
    facts = [
        f"severity={m.get('severity') or '-'}",
        f"duration={duration}s" if duration is not None else "open",
        *(["customer impact"] if m.get("customer_impact") else []),
        *([f"repeat of {', '.join(m['repeat_of'])}"] if m.get("repeat_of") else []),
        *([f"closed {m['closed_at']}"] if m.get("closed_at") else []),
    ]
    return (
        f"{m.get('incident_id')}  revision {m.get('revision')}: {m.get('requirement')}"
        f"{f' ({rules})' if rules else ''}  {', '.join(facts)}{f'  {due}' if due else ''}"
    )


def _reminder_line(m: Mapping[str, Any]) -> str:
    notify = m.get("notify") or {}
    who = str(notify.get("role", "?")) + (f" ({notify['person']})" if notify.get("person") else "")
    return f"{m.get('sent_at')}  {m.get('incident_id')}  {m.get('deadline')} due {m.get('due_at')} -> {who}: {m.get('message')}"


def _event_line(m: Mapping[str, Any]) -> str:
    kind = str(m.get("type", "")).removeprefix("majorops.")
    data = json.dumps(m.get("data", {}), ensure_ascii=False, separators=(",", ":"))
    return f"{m.get('time')}  {m.get('subject')}  {kind}  id={m.get('id')}  {data}"


@dataclass(frozen=True)
class Followed:
    """What ``tail`` can follow: the stream, the subject (all, or one incident's) and the line."""

    stream: str
    root: str
    per_kind: bool
    """Subjects go on after the incident id (``.<kind>``, ``.<type>``)."""
    line: Callable[[Mapping[str, Any]], str]

    def subject(self, incident: str | None) -> str:
        if incident is None:
            return f"{self.root}.>"
        return f"{self.root}.{incident}.>" if self.per_kind else f"{self.root}.{incident}"


def followed() -> dict[str, Followed]:
    from majorops.shared import subjects

    return {
        "escalations": Followed(
            subjects.ESCALATIONS_STREAM, subjects.ESCALATIONS_ROOT, True, _escalation_line
        ),
        "decisions": Followed(subjects.DECISIONS_STREAM, subjects.DECISIONS_ROOT, False, _decision_line),
        "reminders": Followed(subjects.ESCALATIONS_STREAM, subjects.REMINDERS_ROOT, True, _reminder_line),
        "events": Followed(subjects.EVENTS_STREAM, subjects.EVENTS_ROOT, True, _event_line),
    }
