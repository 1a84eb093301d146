"""Named tokens: how they are written, rotated and matched, and what a mistake in them says."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook

from majorops.shared.access import (
    Role,
    Token,
    TokenGate,
    bearer_secret,
    parse_tokens,
    role_of,
    signer_of,
    token_named_by,
)
from majorops.shared.webhook_signatures import SignatureError, WebhookSecret, signature_headers

SECRET = "s3cret-s3cret-s3cret"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_pairs_parse_and_one_name_may_hold_two_secrets_while_rotating() -> None:
    tokens = parse_tokens(f" am:{SECRET}-old , am:{SECRET}-new,ticketing:{SECRET}-tix ", "X")
    assert [t.name for t in tokens] == ["am", "am", "ticketing"]
    assert token_named_by(tokens, f"{SECRET}-old") == "am"
    assert token_named_by(tokens, f"{SECRET}-new") == "am"
    assert token_named_by(tokens, f"{SECRET}-tix") == "ticketing"
    assert token_named_by(tokens, SECRET) is None
    assert parse_tokens("", "X") == ()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("am", "entry 1 is not 'name:secret'"),
        (f"ok:{SECRET},bad name:{SECRET}", "entry 2: name 'bad name'"),
        ("am:short", "at least 16 printable ASCII"),
        ("am:with space in it 123456", "at least 16 printable ASCII"),
        (f"a:{SECRET},b:{SECRET}", "a and b share one secret"),
    ],
)
def test_a_malformed_setting_says_which_entry_and_never_shows_the_secret(text: str, says: str) -> None:
    with pytest.raises(ValueError, match="MAJOROPS_INGEST_TOKENS") as caught:
        parse_tokens(text, "MAJOROPS_INGEST_TOKENS")
    assert says in str(caught.value)
    assert SECRET not in str(caught.value)
    assert "with space" not in str(caught.value)


def test_a_token_never_shows_its_secret() -> None:
    token = Token("am", SECRET)
    assert SECRET not in repr(token) and SECRET not in str(token)


def test_bearer_header_forms() -> None:
    assert bearer_secret({"authorization": f"Bearer {SECRET}"}) == SECRET
    assert bearer_secret({"authorization": f"bearer   {SECRET} "}) == SECRET
    assert bearer_secret({"authorization": f"Basic {SECRET}"}) is None
    assert bearer_secret({"authorization": "Bearer "}) is None
    assert bearer_secret({}) is None


def test_a_write_token_outranks_the_same_secret_listed_for_reading() -> None:
    tokens = ((Token("editor", SECRET), Role.WRITE), (Token("reader", SECRET), Role.READ))
    assert role_of(tokens, SECRET) == ("editor", Role.WRITE)
    assert role_of(tokens[1:], SECRET) == ("reader", Role.READ)
    assert role_of(tokens, "nope") is None


def test_a_request_signed_by_a_reference_standard_webhooks_sender_names_its_sender() -> None:
    whsec = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    tokens = parse_tokens(f"am:{SECRET},vendor:{whsec}", "X")
    body = b'{"a":1}'
    # A sender using the reference library with a whsec_ secret.
    signature = Webhook(whsec).sign("msg_1", NOW, body.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(NOW.timestamp())),
        "webhook-signature": signature,
    }
    assert signer_of(tokens, headers, body, NOW) == "vendor"
    # A sender keying HMAC-SHA256 with a plain secret's bytes.
    plain = signature_headers([WebhookSecret(SECRET.encode())], "msg_2", body, NOW)
    assert signer_of(tokens, plain, body, NOW) == "am"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda h, b: ({**h, "webhook-timestamp": str(int(NOW.timestamp()) - 301)}, b), "300 s away"),
        (lambda h, b: (h, b + b" "), "no signature matches"),
        (
            lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b),
            "missing header(s): webhook-id",
        ),
    ],
)
def test_a_replayed_changed_or_incomplete_signed_request_is_refused(change: object, says: str) -> None:
    tokens = parse_tokens(f"am:{SECRET}", "X")
    body = b'{"a":1}'
    headers, sent = change(signature_headers([WebhookSecret(SECRET.encode())], "m", body, NOW), body)  # type: ignore[operator]
    with pytest.raises(SignatureError, match=re.escape(says)):
        signer_of(tokens, headers, sent, NOW)


# --- the gate with ingest's additions: body limits, signatures, refusals counted ----------------------

LIMIT = (64, "send less")


async def through_gate(
    gate_of: Any, headers: dict[str, str], chunks: list[bytes], path: str = "/v1/x"
) -> Any:
    """One request through a gate in front of an app that echoes its author and body; what was
    answered, how many body messages were read, and what the app saw."""
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.update(author=scope.get("state", {}).get("author"), body=body)
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    messages = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    ]
    read = 0

    async def receive() -> Any:
        nonlocal read
        read += 1
        return messages[read - 1] if read <= len(messages) else {"type": "http.disconnect"}

    answered: list[Any] = []

    async def send(message: Any) -> None:
        answered.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    await gate_of(app)(scope, receive, send)
    status = answered[0]["status"]
    response_headers = {k.decode(): v.decode() for k, v in answered[0]["headers"]}
    body = json.loads(answered[1]["body"]) if status not in (202, 499) else None
    return status, response_headers, body, read, seen


@pytest.fixture
def refusals() -> list[str]:
    return []


@pytest.fixture
def gate_of(refusals: list[str]) -> Any:
    tokens = [(token, Role.WRITE) for token in parse_tokens(f"am:{SECRET},vendor:{SECRET}-vendor", "X")]
    return lambda app: TokenGate(
        app,
        tokens,
        "test-realm",
        body_limit=lambda path: LIMIT,
        signatures=lambda: NOW,
        refused=lambda problem: refusals.append(problem.slug),
    )


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer not-a-token-anyone-issued"}, {"authorization": f"Basic {SECRET}"}],
    ids=["anonymous", "unknown token", "basic scheme"],
)
async def test_the_gate_refuses_without_reading_a_byte_of_the_body(
    gate_of: Any, refusals: list[str], headers: dict[str, str]
) -> None:
    status, answer_headers, problem, read, seen = await through_gate(
        gate_of, headers | {"content-length": "100000"}, [b"x" * 100_000]
    )
    assert (status, read, seen) == (401, 0, {})
    assert answer_headers["www-authenticate"] == 'Bearer realm="test-realm"'
    assert problem["type"].endswith("/unauthenticated")
    assert refusals == ["unauthenticated"]


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "streamed"])
async def test_a_body_over_the_limit_is_a_413_once_the_token_was_checked(
    gate_of: Any, refusals: list[str], declared: bool
) -> None:
    headers = {"authorization": f"Bearer {SECRET}"} | ({"content-length": "65"} if declared else {})
    status, _, problem, read, seen = await through_gate(gate_of, headers, [b"x" * 40, b"x" * 25, b"never"])
    assert (status, seen) == (413, {})
    assert read == (0 if declared else 2)
    assert "exceeds 64 bytes" in problem["detail"] and "send less" in problem["detail"]
    assert refusals == ["too-large"]


async def test_a_bearer_request_reaches_the_app_with_its_body_replayed_and_its_author(gate_of: Any) -> None:
    status, _, _, _, seen = await through_gate(gate_of, {"authorization": f"Bearer {SECRET}"}, [b"ab", b"cd"])
    assert (status, seen) == (202, {"author": "am", "body": b"abcd"})


async def test_a_signed_request_is_let_in_by_its_signer_or_refused_saying_why(
    gate_of: Any, refusals: list[str]
) -> None:
    body = b'{"a":1}'
    signed = signature_headers([WebhookSecret(f"{SECRET}-vendor".encode())], "m", body, NOW)
    status, _, _, _, seen = await through_gate(gate_of, signed, [body])
    assert (status, seen) == (202, {"author": "vendor", "body": body})
    status, _, problem, _, seen = await through_gate(gate_of, signed, [body + b" "])
    assert (status, seen) == (401, {})
    assert problem["detail"] == "The request's signature is not accepted: no signature matches."
    # A signed body is read before the signature can be checked: its size is answered first.
    status, _, _, _, _ = await through_gate(gate_of, signed, [b"x" * 65])
    assert status == 413
    assert refusals == ["unauthenticated", "too-large"]


async def test_a_client_leaving_mid_body_is_a_499_and_never_reaches_the_app(gate_of: Any) -> None:
    status, _, _, _, seen = await through_gate(gate_of, {"authorization": f"Bearer {SECRET}"}, [])
    assert (status, seen) == (499, {})


async def test_with_routes_only_what_a_route_serves_is_gated() -> None:
    from starlette.routing import Route

    routes = [Route("/v1/x", lambda request: None, methods=["POST"])]

    def gate_of(app: Any) -> TokenGate:
        return TokenGate(app, [(Token("am", SECRET), Role.WRITE)], "r", routes=lambda: routes)

    assert (await through_gate(gate_of, {}, [b""]))[0] == 401
    assert (await through_gate(gate_of, {}, [b""], path="/v1/nothing"))[0] == 202  # on to its 404


def test_signatures_need_a_body_limit() -> None:
    with pytest.raises(ValueError, match="needs body_limit"):
        TokenGate(lambda *a: None, [], "r", signatures=lambda: NOW)  # type: ignore[arg-type]
