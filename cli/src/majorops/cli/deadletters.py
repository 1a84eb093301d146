"""``majorops deadletter list|replay``: what the services could not process, and sending it again.

Every message a service gave up on is on ``majorops.deadletter.<service>`` (stream
``MAJOROPS_DEADLETTER``) with the reason, the subject it came from and its payload. After the cause
is fixed (a deployment that now knows an event type, a store back up), ``replay`` publishes each
letter's payload again to its original subject, then deletes the letter from the dead-letter
stream. Replaying is idempotent: a letter replayed is gone, so a second replay finds nothing; and if
a replay stops between the publish and the delete, the services store events by id, decisions by
revision and escalations by id, so the message seen twice changes nothing the second time.

Letters of webhook deliveries (the escalation itself is on its subject; a webhook refused it) are
listed but not replayed: the notifier remembers the failed delivery and would not POST it again.

On a NATS server with users (:mod:`majorops.shared.nats_access`) the command connects as
``MAJOROPS_NATS_USER`` with ``MAJOROPS_NATS_PASSWORD`` (and ``MAJOROPS_NATS_TLS_*``), and that user
is ``admin``: a replay republishes to the letters' original subjects — events, decisions,
escalations — which no service user may publish to all of, reads the dead-letter stream message by
message and deletes from it, which only ``admin`` may.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from majorops.shared import subjects
from majorops.shared.jetstream import publish_acked
from majorops.shared.nats_connection import connect_options, nats_servers
from majorops.shared.outcomes import UnacknowledgedPublish
from majorops.shared.settings import CommonSettings, load_settings

WEBHOOK_MARK = " webhook "


@dataclass(frozen=True)
class StoredLetter:
    """One dead letter as the stream holds it."""

    sequence: int
    letter: dict[str, Any]

    @property
    def service(self) -> str:
        return str(self.letter.get("service", ""))

    @property
    def webhook_delivery(self) -> bool:
        """A webhook refused the escalation: a record of the delivery, not a message to process."""
        return str(self.letter.get("subject", "")).startswith(subjects.ESCALATIONS_ROOT) and (
            WEBHOOK_MARK in str(self.letter.get("reason", ""))
        )

    def as_json(self) -> dict[str, Any]:
        return {"sequence": self.sequence, **self.letter}


async def read_letters(js: JetStreamContext, service: str | None = None) -> list[StoredLetter]:
    """Every letter in the dead-letter stream, oldest first (of one service, if given)."""
    try:
        info = await js.stream_info(subjects.DEADLETTER_STREAM)
    except NotFoundError:
        return []
    letters: list[StoredLetter] = []
    if info.state.messages == 0:
        return letters
    for sequence in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            raw = await js.get_msg(subjects.DEADLETTER_STREAM, sequence)
        except NotFoundError:
            continue  # deleted (replayed)
        try:
            letter = json.loads(raw.data or b"")
        except ValueError:
            letter = {"reason": "(unreadable letter)", "payload": (raw.data or b"").decode(errors="replace")}
        stored = StoredLetter(sequence, letter)
        if service is None or stored.service == service:
            letters.append(stored)
    return letters


@dataclass
class ReplayOutcome:
    replayed: list[int]
    skipped: list[tuple[int, str]]


async def replay_letters(js: JetStreamContext, letters: Sequence[StoredLetter]) -> ReplayOutcome:
    """Publish each letter's payload to its subject (acknowledged), then delete the letter."""
    outcome = ReplayOutcome([], [])
    for stored in letters:
        letter = stored.letter
        subject, payload = letter.get("subject"), letter.get("payload")
        if stored.webhook_delivery:
            outcome.skipped.append(
                (stored.sequence, "a webhook delivery: the notifier does not POST it again")
            )
            continue
        if not isinstance(subject, str) or not isinstance(payload, str) or not subject:
            outcome.skipped.append((stored.sequence, "no subject or payload to replay"))
            continue
        headers = {
            k: str(v)
            for k, v in (letter.get("headers") or {}).items()
            if k != "Nats-Msg-Id" and not k.startswith("Nats-Expected")
        }
        # A fresh message id per letter: JetStream would drop a copy of the original inside its
        # duplicate window, and the services are idempotent by their own ids anyway.
        await publish_acked(
            js,
            subject,
            payload.encode(),
            f"replay:{subjects.DEADLETTER_STREAM}:{stored.sequence}",
            headers=headers,
        )
        await js.delete_msg(subjects.DEADLETTER_STREAM, stored.sequence)
        outcome.replayed.append(stored.sequence)
    return outcome


def _line(stored: StoredLetter) -> str:
    letter = stored.letter
    return (
        f"{stored.sequence:>6}  {stored.service:<10} {letter.get('dead_lettered_at', '?'):<28} "
        f"{letter.get('subject', '?')}\n        {letter.get('reason', '?')}"
    )


async def _quiet(_error: Exception) -> None:
    return None


async def run(
    command: str,
    nats_url: str,
    service: str | None,
    sequences: Sequence[int],
    as_json: bool,
    options: dict[str, Any] | None = None,
) -> int:
    """The command's work; its exit status (0 done, 1 nothing matched a given sequence).

    ``options``: user, password and TLS for ``nats.connect`` (see
    :func:`~majorops.shared.nats_connection.connect_options`)."""
    connection = await nats.connect(
        nats_servers(nats_url),
        **(options or {}),
        connect_timeout=5,
        allow_reconnect=False,
        max_reconnect_attempts=1,
        reconnect_time_wait=0.1,
        error_cb=_quiet,  # the command says itself what went wrong, once
    )
    try:
        js = connection.jetstream()
        letters = await read_letters(js, service)
        missing: set[int] = set()
        if sequences:
            wanted = set(sequences)
            letters = [stored for stored in letters if stored.sequence in wanted]
            missing = wanted - {stored.sequence for stored in letters}
            if missing:
                print(
                    f"majorops deadletter: no letter {sorted(missing)} (replayed already?)", file=sys.stderr
                )
        status = 1 if missing else 0
        if command == "list":
            for stored in letters:
                print(json.dumps(stored.as_json(), ensure_ascii=False) if as_json else _line(stored))
            if not as_json:
                print(f"{len(letters)} dead letter(s)")
            return status
        try:
            outcome = await replay_letters(js, letters)
        except UnacknowledgedPublish as exc:
            print(f"majorops deadletter: replay stopped, NATS did not acknowledge: {exc}", file=sys.stderr)
            return 2
        summary = {
            "replayed": outcome.replayed,
            "skipped": [{"sequence": s, "why": w} for s, w in outcome.skipped],
        }
        if as_json:
            print(json.dumps(summary))
        else:
            for sequence, why in outcome.skipped:
                print(f"skipped {sequence}: {why}")
            print(f"replayed {len(outcome.replayed)}, skipped {len(outcome.skipped)}")
        return status
    finally:
        await connection.close()


def main(command: str, nats_url: str, service: str | None, sequences: Sequence[int], as_json: bool) -> int:
    options = connect_options(load_settings(CommonSettings, "deadletter"))
    try:
        return asyncio.run(run(command, nats_url, service, sequences, as_json, options))
    except (OSError, nats.errors.NoServersError) as exc:
        print(f"majorops deadletter: cannot reach NATS at {nats_url}: {exc}", file=sys.stderr)
        return 2
