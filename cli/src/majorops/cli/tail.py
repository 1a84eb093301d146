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
import contextlib
import json
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable
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
    command_epilog,
    data_dir_of,
    nats_url,
    run_command,
    secret_of,
)
from majorops.cli.tail_lines import followed

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

CONSUMER_USER = "consumer"
FETCH_SECONDS = 1.0
"""The longest one fetch waits: how soon Ctrl-C, SIGTERM or --timeout is noticed."""
INACTIVE_THRESHOLD_SECONDS = 60.0
"""The server removes a tail's consumer this long after its last fetch (a tail killed with -9)."""
CONNECT_TIMEOUT_SECONDS = 5.0
RECONNECT_SECONDS = 1.0
"""How often a tail that lost NATS tries to connect again."""


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
--timeout seconds. When NATS goes away it connects again every second and goes on right after the
last message read (nothing twice, nothing missed).

Connects as the NATS user consumer (SECURITY.md), through a pull consumer of its own that
acknowledges nothing and is deleted when the command stops; a line on stderr says when it follows."""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "tail",
        help="follow escalations, decisions, reminders or events, one line (or JSON) per message",
        description=DESCRIPTION,
        epilog=command_epilog(
            "--count messages did not arrive before --timeout",
            (EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_NOPERM),
            [
                "  NATS URL      --nats-url, $MAJOROPS_NATS_URL, nats://127.0.0.1:$MAJOROPS_NATS_PORT (4222)",
                "  password      of the NATS user consumer: $MAJOROPS_NATS_CONSUMER_PASSWORD, $NATS_CONSUMER_PASSWORD,",
                "                NATS_CONSUMER_PASSWORD in <data-dir>/credentials.env (none: connect without a user)",
                "  TLS           $MAJOROPS_NATS_TLS_CA, $MAJOROPS_NATS_TLS_CERT, $MAJOROPS_NATS_TLS_KEY",
            ],
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


class LostNats(Exception):
    """The connection went away while following: the tail reconnects and goes on where it was."""


class Tail:
    def __init__(self, args: argparse.Namespace, url: str, password: str | None) -> None:
        self.args = args
        self.url = url
        self.password = password
        self.target = followed()[args.what]
        self.subject = self.target.subject(args.incident)
        self.printed = 0
        self.stop = asyncio.Event()
        self.deadline = None if args.timeout is None else time.monotonic() + args.timeout
        self.last_seq: int | None = None
        """The stream sequence the tail has read up to: a consumer made after a reconnect starts after
        it, so nothing is shown twice and nothing published meanwhile is missed."""

    async def follow(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop.set)
        client: Client | None = await self.connect()
        while client is not None:
            name = f"majorops-tail-{secrets.token_hex(6)}"
            again = self.last_seq is not None
            try:
                js = client.jetstream()
                await self.create_consumer(js, name)
                say = "following again" if again else "following"
                print(
                    f"majorops tail: {say} {self.subject} on {self.url} (Ctrl-C to stop)",
                    file=sys.stderr,
                    flush=True,
                )
                await self.read(client, js, name)
                break
            except LostNats as exc:
                print(
                    f"majorops tail: lost NATS at {self.url} ({exc}); reconnecting",
                    file=sys.stderr,
                    flush=True,
                )
            except CommandFailed as failed:
                if not again or failed.status != EXIT_UNAVAILABLE:
                    raise
                print(f"majorops tail: {failed.message}; trying again", file=sys.stderr, flush=True)
            finally:
                await self.close(client, name)
            client = await self.reconnect()
        return self.outcome()

    def outcome(self) -> int:
        count = self.args.count
        if count is not None and self.printed < count and not self.stop.is_set():
            print(f"majorops tail: {self.printed} of {count} message(s) before --timeout", file=sys.stderr)
            return EXIT_PARTIAL
        return EXIT_OK

    def left(self) -> float | None:
        """Seconds until ``--timeout`` (None: no timeout)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    async def reconnect(self) -> Client | None:
        """Connect again, once a second, until NATS answers, Ctrl-C/SIGTERM, or ``--timeout``."""
        while True:
            left = self.left()
            wait = RECONNECT_SECONDS if left is None else min(RECONNECT_SECONDS, left)
            if wait <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), wait)
            if self.stop.is_set() or (left is not None and left <= wait):
                return None
            try:
                return await self.connect()
            except CommandFailed as failed:
                if failed.status != EXIT_UNAVAILABLE:
                    raise

    async def connect(self) -> Client:
        import nats
        import nats.errors

        from majorops.shared.nats_connection import nats_servers

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

        start_seq = None
        if self.last_seq is not None:  # again, after a reconnect: right after what was read
            policy, start, start_seq = DeliverPolicy.BY_START_SEQUENCE, None, self.last_seq + 1
        elif self.args.all:
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
            opt_start_seq=start_seq,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=INACTIVE_THRESHOLD_SECONDS,
            mem_storage=True,
        )
        try:
            created = await js.add_consumer(self.target.stream, config)
            if self.last_seq is None:  # where it starts: the last sequence before its first message
                self.last_seq = created.delivered.stream_seq if created.delivered else 0
        except nats.errors.Error as exc:
            if "permissions violation" in str(exc).lower() or "authorization" in str(exc).lower():
                raise CommandFailed(
                    EXIT_NOPERM, f"NATS at {self.url} does not let this user read {self.target.stream}: {exc}"
                ) from None
            raise CommandFailed(
                EXIT_UNAVAILABLE, f"cannot follow {self.target.stream} on {self.url}: {exc!r}"
            ) from None

    async def read(self, client: Client, js: JetStreamContext, name: str) -> None:
        """Show messages until Ctrl-C/SIGTERM, ``--count`` or ``--timeout``; :class:`LostNats` when the
        connection goes."""
        import nats.errors

        try:
            subscription = await js.pull_subscribe_bind(consumer=name, stream=self.target.stream)
        except nats.errors.Error as exc:
            raise LostNats(str(exc) or type(exc).__name__) from None
        count = self.args.count
        while not self.stop.is_set():
            if count is not None and self.printed >= count:
                return
            wait = FETCH_SECONDS
            left = self.left()
            if left is not None:
                wait = min(wait, left)
                if wait <= 0:
                    return
            batch = 64 if count is None else min(64, count - self.printed)
            try:
                messages = await subscription.fetch(batch, timeout=wait)
            except (TimeoutError, nats.errors.TimeoutError):
                # nats-py raises either kind when nothing came (its own, or asyncio's when the
                # deadline passed between its two pull requests).
                if client.is_closed:  # a fetch on a closed connection times out too
                    raise LostNats("connection closed") from None
                continue
            except nats.errors.Error as exc:
                raise LostNats(str(exc) or type(exc).__name__) from None
            for message in messages:
                self.last_seq = message.metadata.sequence.stream
                self.show(message.data)

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
    from majorops.shared.nats_connection import tls_context
    from majorops.shared.settings import CommonSettings, load_settings

    return tls_context(load_settings(CommonSettings, "tail"))
