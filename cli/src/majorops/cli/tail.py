"""``majorops tail escalations|decisions|reminders|events``: follow a stream, one line per message.

It reads the way SECURITY.md lets other systems read: connected as the NATS user ``consumer``,
through a pull consumer of its own (core subscriptions to stored subjects are withheld from
``consumer``). The consumer is named ``majorops-tail-<random>``, acknowledges nothing
(``AckPolicy.NONE``: following takes nothing away from anyone), is deleted when the command stops,
and is removed by the server a minute after a ``kill -9`` (``inactive_threshold``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from majorops.cli.system_access import (
    EXIT_NOPERM,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    NATS_CONSUMER_PASSWORD,
    CommandFailed,
    add_data_dir_argument,
    data_dir_of,
    exit_status_help,
    nats_url,
    run_command,
    secret_of,
    where_help,
)

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

CONSUMER_USER = "consumer"
FETCH_SECONDS = 1.0
"""The longest one fetch waits: how soon Ctrl-C, SIGTERM or --timeout is noticed."""
INACTIVE_THRESHOLD_SECONDS = 60.0
"""The server removes a tail's consumer this long after its last fetch (a tail killed with -9)."""
CONNECT_TIMEOUT_SECONDS = 5.0


# --- one line per message ----------------------------------------------------------------------------


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


# --- options -----------------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since_moment(value: str, now: datetime | None = None) -> datetime:
    """``--since``: a duration back from now (``90s``, ``10m``, ``2h``, ``7d``) or an RFC 3339 time."""
    found = _DURATION.match(value.strip())
    if found:
        return (now or datetime.now(UTC)) - timedelta(seconds=float(found[1]) * _UNITS[found[2]])
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a duration (90s, 10m, 2h, 7d) nor an RFC 3339 time"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no offset: add Z or ±hh:mm")
    return moment.astimezone(UTC)


def _positive(kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
        return number

    return parse


DESCRIPTION = """\
Follow a stream and print one line per message: escalations (majorops.escalations.>), decisions
(majorops.decisions.>), heads-up reminders (majorops.reminders.>) or accepted events
(majorops.events.>), all incidents or --incident's. By default only what arrives from now on;
--since and --all show what the stream already holds first. --json prints each message as published,
one JSON object per line. Stops on Ctrl-C or SIGTERM (exit 0), after --count messages, or after
--timeout seconds.

Connects as the NATS user consumer (SECURITY.md), through a pull consumer of its own that
acknowledges nothing and is deleted when the command stops; a line on stderr says when it follows."""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "tail",
        help="follow escalations, decisions, reminders or events, one line (or JSON) per message",
        description=DESCRIPTION,
        epilog=exit_status_help(
            "--count messages did not arrive before --timeout", EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_NOPERM
        )
        + "\n\n"
        + where_help(
            "  NATS URL      --nats-url, $MAJOROPS_NATS_URL, nats://127.0.0.1:$MAJOROPS_NATS_PORT (4222)",
            "  password      of the NATS user consumer: $MAJOROPS_NATS_CONSUMER_PASSWORD, $NATS_CONSUMER_PASSWORD,",
            "                NATS_CONSUMER_PASSWORD in <data-dir>/credentials.env (none: connect without a user)",
            "  TLS           $MAJOROPS_NATS_TLS_CA, $MAJOROPS_NATS_TLS_CERT, $MAJOROPS_NATS_TLS_KEY",
        ),
    )
    parser.add_argument("what", choices=("escalations", "decisions", "reminders", "events"))
    parser.add_argument("--incident", metavar="ID", help="only this incident's messages")
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--since",
        type=since_moment,
        metavar="WHEN",
        help="first what the stream stored since then: a duration back (90s, 10m, 2h, 7d) or an RFC 3339 time",
    )
    start.add_argument("--all", action="store_true", help="first everything the stream holds")
    parser.add_argument("--count", type=_positive(int), metavar="N", help="stop after N messages")
    parser.add_argument("--timeout", type=_positive(float), metavar="SECONDS", help="stop after this long")
    parser.add_argument(
        "--json", action="store_true", help="each message as published, one JSON object per line"
    )
    parser.add_argument("--nats-url", metavar="URL", help="NATS to read from (see settings below)")
    add_data_dir_argument(parser, NATS_CONSUMER_PASSWORD)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return run_command("tail", lambda: tail(args))


def tail(args: argparse.Namespace) -> int:
    from majorops.shared.events import INCIDENT_ID_PATTERN

    if args.incident is not None and not re.fullmatch(INCIDENT_ID_PATTERN, args.incident):
        raise CommandFailed(
            EXIT_USAGE, f"--incident {args.incident!r} is not an incident id ({INCIDENT_ID_PATTERN})"
        )
    password = secret_of(NATS_CONSUMER_PASSWORD, None, data_dir_of(args))
    return asyncio.run(Tail(args, nats_url(args), password).follow())


class Tail:
    def __init__(self, args: argparse.Namespace, url: str, password: str | None) -> None:
        self.args = args
        self.url = url
        self.password = password
        self.target = followed()[args.what]
        self.subject = self.target.subject(args.incident)
        self.printed = 0
        self.stop = asyncio.Event()

    async def follow(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop.set)
        client = await self.connect()
        name = f"majorops-tail-{secrets.token_hex(6)}"
        try:
            js = client.jetstream()
            await self.create_consumer(js, name)
            print(
                f"majorops tail: following {self.subject} on {self.url} (Ctrl-C to stop)",
                file=sys.stderr,
                flush=True,
            )
            return await self.read(js, name)
        finally:
            await self.close(client, name)

    async def connect(self) -> Client:
        import nats
        import nats.errors

        from majorops.shared.jetstream import nats_servers

        refused: list[str] = []

        async def on_error(exc: Exception) -> None:
            if "authorization" in str(exc).lower():
                refused.append(str(exc))

        options: dict[str, Any] = {"user": CONSUMER_USER, "password": self.password} if self.password else {}
        tls = _tls_context()
        if tls is not None:
            options["tls"] = tls
        try:
            return await nats.connect(
                nats_servers(self.url),
                **options,
                name="majorops tail",
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.1,
                error_cb=on_error,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            if refused or "authorization" in str(exc).lower():
                who = f"user {CONSUMER_USER}" if self.password else "a connection without a user"
                raise CommandFailed(
                    EXIT_NOPERM,
                    f"NATS at {self.url} refused {who}: set {NATS_CONSUMER_PASSWORD.describe()} "
                    "(or run where <data-dir>/credentials.env is)",
                ) from None
            raise CommandFailed(
                EXIT_UNAVAILABLE, f"cannot reach NATS at {self.url}: {exc or type(exc).__name__}"
            ) from None

    async def create_consumer(self, js: JetStreamContext, name: str) -> None:
        import nats.errors
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        if self.args.all:
            policy, start = DeliverPolicy.ALL, None
        elif self.args.since is not None:
            policy, start = DeliverPolicy.BY_START_TIME, self.args.since
        else:
            policy, start = DeliverPolicy.NEW, None
        config = ConsumerConfig(
            name=name,
            filter_subject=self.subject,
            deliver_policy=policy,
            opt_start_time=start,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=INACTIVE_THRESHOLD_SECONDS,
            mem_storage=True,
        )
        try:
            await js.add_consumer(self.target.stream, config)
        except nats.errors.Error as exc:
            if "permissions violation" in str(exc).lower() or "authorization" in str(exc).lower():
                raise CommandFailed(
                    EXIT_NOPERM, f"NATS at {self.url} does not let this user read {self.target.stream}: {exc}"
                ) from None
            raise CommandFailed(
                EXIT_UNAVAILABLE, f"cannot follow {self.target.stream} on {self.url}: {exc!r}"
            ) from None

    async def read(self, js: JetStreamContext, name: str) -> int:
        import nats.errors

        subscription = await js.pull_subscribe_bind(consumer=name, stream=self.target.stream)
        count, timeout = self.args.count, self.args.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.stop.is_set():
            if count is not None and self.printed >= count:
                return EXIT_OK
            wait = FETCH_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            batch = 64 if count is None else min(64, count - self.printed)
            try:
                messages = await subscription.fetch(batch, timeout=wait)
            except nats.errors.TimeoutError:
                continue
            except nats.errors.Error as exc:
                raise CommandFailed(
                    EXIT_UNAVAILABLE, f"lost NATS at {self.url}: {exc or type(exc).__name__}"
                ) from None
            for message in messages:
                self.show(message.data)
        if count is not None and self.printed < count and not self.stop.is_set():
            print(f"majorops tail: {self.printed} of {count} message(s) before --timeout", file=sys.stderr)
            return EXIT_PARTIAL
        return EXIT_OK

    def show(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if self.args.json:
            line = (
                data.decode(errors="replace") if message is None else json.dumps(message, ensure_ascii=False)
            )
        else:
            line = self.target.line(message) if isinstance(message, dict) else data.decode(errors="replace")
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # `majorops tail … | head`: the reader has had enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
            self.stop.set()
            return
        self.printed += 1

    async def close(self, client: Client, name: str) -> None:
        try:
            await client.jetstream().delete_consumer(self.target.stream, name)
        except Exception:  # noqa: S110 - the server removes it anyway after inactive_threshold
            pass
        await client.close()


def _tls_context() -> Any:
    """The TLS of ``MAJOROPS_NATS_TLS_*``, as the services connect (None when none is set)."""
    from majorops.shared.jetstream import tls_context
    from majorops.shared.settings import CommonSettings, load_settings

    return tls_context(load_settings(CommonSettings, "tail"))
