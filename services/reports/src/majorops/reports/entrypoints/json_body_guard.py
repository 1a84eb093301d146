"""Reports' request bodies: at most 1 MiB of strict JSON, checked before any route reads them.

FastAPI would read a body of any size and parse it with Python's lenient :func:`json.loads`: a
deep nesting exhausts the recursion limit, ``NaN`` passes, and of two equal keys the last one wins
silently. :class:`JsonBodyGuard` reads the body first (refusing it with ``413`` as soon as it
passes the limit, declared or streamed), parses it with
:func:`~majorops.shared.json_body.loads_strict` (``400`` naming what is wrong), then hands the
same bytes on. It sits inside the token gate, so nobody unknown makes reports read a body.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from majorops.shared.access import answer_problem, read_within, replaying
from majorops.shared.json_body import JsonRefused, loads_strict
from majorops.shared.problems import Problem

MAX_BODY_BYTES = 1024 * 1024
"""The largest request body reports reads (a narrative edit is a few kilobytes)."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ADVICE = "no request of this API needs that much"
"""What a 413 advises."""


class JsonBodyGuard:
    """ASGI middleware: every request body is at most ``max_bytes`` of strict JSON, or the request
    is answered with the problem and never reaches a route."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        body = await read_within(receive, Headers(scope=scope), (self.max_bytes, ADVICE))
        if body is None:  # the client went away before sending all of it
            return
        problem: Problem | None = None
        if isinstance(body, Problem):
            problem = body
        elif body:
            try:
                loads_strict(body)
            except JsonRefused as exc:
                problem = exc.problem()
        if problem is not None:
            await answer_problem(problem, scope, receive, send)
            return
        assert isinstance(body, bytes)
        await self.app(scope, replaying(body, receive), send)
