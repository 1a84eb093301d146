"""Read MajorOps escalations as another system does: a durable pull consumer of its own on the stream
``MAJOROPS_ESCALATIONS``, filtered on ``majorops.escalations.>``, with explicit acks, connected as the
NATS user ``consumer`` (README, "What other systems can subscribe to"; SECURITY.md).

With ``majorops up`` running (its password is in ``.majorops/credentials.env``)::

    . .majorops/credentials.env
    MAJOROPS_NATS_CONSUMER_PASSWORD=$NATS_CONSUMER_PASSWORD .venv/bin/python \\
        docs/examples/escalation_consumer.py --nats-url nats://127.0.0.1:4222 --durable pager-bridge

It prints each escalation as one JSON line on stdout (as published: ``escalation_id``, ``kind``,
``level``, ``notify``, ``message``, ``late``, ``superseded_by``, …), then acknowledges it, and waits
for the next. The durable remembers what was acknowledged: the next run with the same ``--durable``
starts after it, also when escalations were published while no run was up; another durable name
reads everything again. ``--count N`` exits after N escalations, ``--idle-timeout S`` when none
arrived for S seconds; without them it runs until Ctrl-C.

An escalation is acknowledged only after it was handled (here: printed). One that was fetched and
not acknowledged — the process died, the handling failed — is delivered again after ``ack_wait``.
So a consumer that pages people should be idempotent on ``escalation_id``, and follow the README's
advice on ``superseded_by`` and ``met_at`` to page once per obligation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import nats
import nats.errors
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig

PASSWORD_VARIABLE = "MAJOROPS_NATS_CONSUMER_PASSWORD"  # noqa: S105 - the name of a variable
FETCH_SECONDS = 5.0
"""The longest one fetch waits, so that an idle timeout is noticed in time."""


class Refused(Exception):
    """NATS refused the user or password: trying again would not help."""


async def connect(url: str, password: str, name: str) -> NATS:
    """Connect as ``consumer``; once connected, reconnect for as long as it takes (the durable keeps
    the position meanwhile). Each connection problem is one line on stderr."""
    connected = False

    async def on_error(exc: Exception) -> None:
        print(f"escalation_consumer: NATS: {exc}", file=sys.stderr, flush=True)
        if not connected and "authorization violation" in str(exc).lower():
            raise Refused(str(exc)) from exc  # nats.connect() raises it instead of retrying forever

    nc = await nats.connect(
        url, user="consumer", password=password, name=name, error_cb=on_error, max_reconnect_attempts=-1
    )
    connected = True
    return nc


async def consume(
    url: str, durable: str, password: str, count: int | None, idle_timeout: float | None
) -> int:
    """Print and acknowledge escalations until ``count`` were handled or none came for ``idle_timeout``
    seconds (forever when both are None); returns how many were handled."""
    nc = await connect(url, password, name=f"escalation-consumer {durable}")
    try:
        js = nc.jetstream()
        # Created with this config by the first run, bound to by every later run of the same durable.
        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_ack_pending=100)
        sub = await js.pull_subscribe(
            "majorops.escalations.>", durable=durable, stream="MAJOROPS_ESCALATIONS", config=config
        )
        handled = 0
        last = time.monotonic()
        while count is None or handled < count:
            wait = FETCH_SECONDS
            if idle_timeout is not None:
                wait = min(wait, idle_timeout - (time.monotonic() - last))
                if wait <= 0:
                    break
            try:
                msgs = await sub.fetch(10 if count is None else min(10, count - handled), timeout=wait)
            except nats.errors.TimeoutError:
                continue  # nothing new yet
            for msg in msgs:
                escalation = json.loads(msg.data)  # escalation_id, kind, level, notify, message, late, …
                print(json.dumps(escalation), flush=True)  # the handling: here, a line on stdout
                await msg.ack_sync()  # explicit ack, once handled, confirmed by the server
                handled += 1
            last = time.monotonic()
        return handled
    finally:
        # Every ack was confirmed, so nothing is left to flush. (drain() would wait for the
        # pull requests' own status messages, which nobody reads, until its timeout.)
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222", help="NATS (default: %(default)s)")
    parser.add_argument(
        "--durable", required=True, help="this reader's durable consumer name (any name but a service's)"
    )
    parser.add_argument("--count", type=int, help="exit after this many escalations")
    parser.add_argument("--idle-timeout", type=float, help="exit when none arrived for this many seconds")
    args = parser.parse_args(argv)
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        parser.error(f"set {PASSWORD_VARIABLE} (majorops up: $NATS_CONSUMER_PASSWORD in credentials.env)")
    try:
        asyncio.run(consume(args.nats_url, args.durable, password, args.count, args.idle_timeout))
    except KeyboardInterrupt:
        return 130
    except Refused:
        print(f"escalation_consumer: user consumer refused: check {PASSWORD_VARIABLE}", file=sys.stderr)
        return 1
    except nats.errors.Error as exc:  # such as a durable name that is a service's (SECURITY.md)
        print(f"escalation_consumer: {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
