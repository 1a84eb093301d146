"""HTTP access control: named tokens, bearer and signed requests, and the 401/403 problems.

Tokens are written ``name:secret`` and comma-separated (``MAJOROPS_INGEST_TOKENS``,
``MAJOROPS_REPORTS_READ_TOKENS``, ``MAJOROPS_REPORTS_WRITE_TOKENS``). A name may appear with
several secrets: that is how a secret is rotated (add the new one, move the sender, drop the old).
The name is what the record keeps of who wrote (the CloudEvents ``authid`` of an accepted event);
the secret never leaves this module (``repr`` hides it, comparisons take constant time).

Ingest also accepts a request signed the Standard Webhooks way (``webhook-id``,
``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``, see
:mod:`majorops.shared.webhook_signatures`) with a sender's secret as the key: a ``whsec_…`` secret
is used as Standard Webhooks libraries use it (the base64-decoded bytes), any other secret as its
UTF-8 bytes. The timestamp must be within :data:`SIGNATURE_TOLERANCE_SECONDS` of now.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from majorops.shared.json_body import body_too_large
from majorops.shared.problems import PROBLEM_MEDIA_TYPE, Problem
from majorops.shared.webhook_signatures import SECRET_PREFIX, SignatureError, WebhookSecret, verify_signature

if TYPE_CHECKING:  # the settings read tokens without loading the web framework (fast --help)
    from starlette.responses import JSONResponse
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIN_SECRET_LENGTH = 16
SIGNATURE_TOLERANCE_SECONDS = 300
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SECRET = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII without space: fits a header as it is


class Role(Enum):
    """What a reports token may do; a write token may also read."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Token:
    """One named secret. ``repr`` shows the name only."""

    name: str
    secret: str

    def __repr__(self) -> str:
        return f"Token({self.name!r}, ***)"

    def matches(self, given: str) -> bool:
        return hmac.compare_digest(self.secret.encode(), given.encode())

    def signing_key(self) -> WebhookSecret:
        if self.secret.startswith(SECRET_PREFIX):
            try:
                return WebhookSecret.parse(self.secret)
            except ValueError:
                pass
        return WebhookSecret(self.secret.encode())


def parse_tokens(text: str, setting: str) -> tuple[Token, ...]:
    """``name:secret,name:secret`` → tokens; ``ValueError`` naming the entry (never its secret)."""
    tokens: list[Token] = []
    for position, part in enumerate(text.split(","), start=1):
        entry = part.strip()
        if not entry:
            continue
        name, colon, secret = entry.partition(":")
        name, secret = name.strip(), secret.strip()
        where = f"{setting} entry {position}"
        if not colon:
            raise ValueError(f"{where} is not 'name:secret' (no ':' in it)")
        if not _NAME.match(name):
            raise ValueError(
                f"{where}: name {name[:64]!r} must be 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if len(secret) < MIN_SECRET_LENGTH or not _SECRET.match(secret):
            raise ValueError(
                f"{where} ({name}): the secret must be at least {MIN_SECRET_LENGTH} printable ASCII "
                "characters without spaces or commas; generate one with: "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        tokens.append(Token(name, secret))
    seen: dict[str, str] = {}
    for token in tokens:
        other = seen.setdefault(token.secret, token.name)
        if other != token.name:
            raise ValueError(f"{setting}: {other} and {token.name} share one secret; give each its own")
    return tuple(tokens)


def new_secret() -> str:
    """A fresh secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def bearer_secret(headers: Mapping[str, str]) -> str | None:
    """The credentials of ``Authorization: Bearer <secret>`` (scheme case-insensitive), else None."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def token_named_by(tokens: Sequence[Token], given: str) -> str | None:
    """The name of the token whose secret is ``given``. Every token is compared (no early exit), so
    the time taken says nothing about which one matched or how much of it."""
    found: str | None = None
    for token in tokens:
        if token.matches(given):
            found = token.name
    return found


def is_signed(headers: Mapping[str, str]) -> bool:
    return any(headers.get(name) for name in SIGNATURE_HEADERS)


def signer_of(tokens: Sequence[Token], headers: Mapping[str, str], body: bytes, now: datetime) -> str:
    """The name of the sender whose secret signed this request; :class:`SignatureError` otherwise
    (a missing header, a timestamp outside the window, or no secret matching)."""
    found: str | None = None
    failure: SignatureError | None = None
    for token in tokens:
        try:
            verify_signature([token.signing_key()], headers, body, now, SIGNATURE_TOLERANCE_SECONDS)
        except SignatureError as exc:
            failure = exc
        else:
            found = token.name
    if found is not None:
        return found
    raise failure or SignatureError("no signature matches")


# --- the answers: RFC 9457, saying what to send and nothing about what is configured -------------


def unauthenticated(realm: str, detail: str | None = None) -> Problem:
    """``401``: no credentials, or credentials nobody here issued (the same answer for both)."""
    return Problem(
        401,
        "Authentication required",
        detail
        or "Send 'Authorization: Bearer <token>' with a token issued for this API; none was given or "
        "the one given is not valid here.",
        "unauthenticated",
        headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
    )


def forbidden(token_name: str, needed: Role) -> Problem:
    """``403``: a valid token without the right (a read token on a write)."""
    return Problem(
        403,
        "Not allowed with this token",
        f"Token {token_name!r} may only read; this request changes the record and needs a "
        f"{needed.value} token (MAJOROPS_REPORTS_WRITE_TOKENS).",
        "forbidden",
    )


# --- the gate in front of an HTTP API (reports, ingest) ---------------------------------------------

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/workbench"}
)
"""Paths anyone may reach: liveness, readiness and metrics (for probes and scrapers, which carry no
token), the API's own description (the same as in the repository's docs/api) and the workbench page
of reports (a shell without data: its script reads everything through the API with the user's token)."""
OPEN_PREFIXES = ("/workbench/static/",)
"""Path prefixes anyone may reach: the workbench page's script and style sheet (no data either)."""


def role_of(tokens: Sequence[tuple[Token, Role]], given: str) -> tuple[str, Role] | None:
    """The name and the strongest role of the token whose secret is ``given``; every token compared."""
    found: tuple[str, Role] | None = None
    for token, role in tokens:
        if token.matches(given) and (found is None or role is Role.WRITE):
            found = (token.name, role)
    return found


def problem_response(problem: Problem) -> JSONResponse:
    """An RFC 9457 problem document as an HTTP answer (with the problem's own headers)."""
    from starlette.responses import JSONResponse

    return JSONResponse(
        problem.as_dict(),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(problem.headers),
    )


async def answer_problem(problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer an ASGI request with an RFC 9457 problem document (for middleware: before any route)."""
    await problem_response(problem)(scope, receive, send)


BodyLimit = tuple[int, str]
"""The most bytes a body may have, and what to do about a larger one (the 413's advice)."""


class TokenGate:
    """ASGI middleware: every request outside :data:`OPEN_PATHS` needs a bearer token; reading
    (``GET``/``HEAD``/``OPTIONS``) takes a read or write token, anything else a write token. Checked
    before the app reads a byte of the body, so an anonymous request learns nothing about it. The
    token's name is left in ``request.state.author`` for the record.

    What ingest adds, each by an argument:

    - ``routes``: only a request one of these routes serves (path and method) is gated; any other
      goes on to its 404 or 405, as if there were no gate.
    - ``body_limit`` (the limit of a path): the gate reads the body of a request it lets in, up to
      that limit (``413`` past it, declared or streamed, once the token was checked), and replays it
      to the app.
    - ``signatures`` (the clock): a request without a bearer token but with Standard Webhooks
      headers is let in when a token's secret signed it within :data:`SIGNATURE_TOLERANCE_SECONDS`;
      its body is read (up to its limit) to check that. Needs ``body_limit``.
    - ``refused``: told of every request the gate refuses (to count it).

    A client that leaves mid-body gets the app's answer to that: one INFO line and ``499``
    (:mod:`majorops.shared.http_telemetry`), nothing done.
    """

    def __init__(
        self,
        app: ASGIApp,
        tokens: Sequence[tuple[Token, Role]],
        realm: str,
        *,
        routes: Callable[[], Sequence[BaseRoute]] | None = None,
        body_limit: Callable[[str], BodyLimit] | None = None,
        signatures: Callable[[], datetime] | None = None,
        refused: Callable[[Problem], object] | None = None,
    ) -> None:
        if signatures is not None and body_limit is None:
            raise ValueError("a signature covers the body: TokenGate(signatures=…) needs body_limit")
        self.app = app
        self.tokens = tuple(tokens)
        self.realm = realm
        self.routes = routes
        self.body_limit = body_limit
        self.signatures = signatures
        self.refused = refused

    def guards(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or scope["path"].startswith(OPEN_PREFIXES):
            return False
        if self.routes is None:
            return True
        from starlette.routing import Match

        return any(route.matches(scope)[0] is Match.FULL for route in self.routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.guards(scope):
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:  # the first of a repeated header, as Starlette reads it
            headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
        admitted = await self.admit(scope, receive, headers)
        if isinstance(admitted, Problem):
            if self.refused is not None:
                self.refused(admitted)
            await answer_problem(admitted, scope, receive, send)
            return
        if admitted is None:
            await answer_client_gone(scope, receive, send)
            return
        name, body = admitted
        scope.setdefault("state", {})["author"] = name
        await self.app(scope, receive if body is None else replaying(body, receive), send)

    async def admit(
        self, scope: Scope, receive: Receive, headers: Mapping[str, str]
    ) -> tuple[str, bytes | None] | Problem | None:
        """The token's name and the body read (``None`` when not read), or the refusal; ``None``
        when the client left before sending its whole body."""
        secret = bearer_secret(headers)
        if secret is not None:
            granted = role_of(self.tokens, secret)
            if granted is None:
                return unauthenticated(self.realm)
            if granted[1] is Role.READ and scope["method"] not in READ_METHODS:
                return forbidden(granted[0], Role.WRITE)
            if self.body_limit is None:
                return granted[0], None
            body = await read_within(receive, headers, self.body_limit(scope["path"]))
            return body if body is None or isinstance(body, Problem) else (granted[0], body)
        if self.signatures is None or self.body_limit is None or not is_signed(headers):
            return unauthenticated(self.realm)
        body = await read_within(receive, headers, self.body_limit(scope["path"]))
        if body is None or isinstance(body, Problem):
            return body
        tokens = [token for token, _ in self.tokens]
        try:
            return signer_of(tokens, headers, body, self.signatures()), body
        except SignatureError as exc:
            return unauthenticated(self.realm, f"The request's signature is not accepted: {exc}.")


async def read_within(
    receive: Receive, headers: Mapping[str, str], limit: BodyLimit
) -> bytes | Problem | None:
    """The body, refused with 413 as soon as it passes the limit (declared or streamed); ``None``
    when the client left before sending all of it."""
    most, advice = limit
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > most:
        return body_too_large(most, advice)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > most:
            return body_too_large(most, advice)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read already, whole, then whatever the client sends next."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def answer_client_gone(scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.responses import Response

    from majorops.shared.http_telemetry import CLIENT_CLOSED_REQUEST, log_client_disconnected

    log_client_disconnected(scope["method"], scope["path"])
    await Response(status_code=CLIENT_CLOSED_REQUEST)(scope, receive, send)


def declare_bearer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An OpenAPI document with the bearer scheme declared and required everywhere but the open paths."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": description,
    }
    schema["security"] = [{"bearer": []}]
    for path, operations in schema.get("paths", {}).items():
        if path in OPEN_PATHS:
            for operation in operations.values():
                operation["security"] = []
    return schema
