"""Named tokens: how they are written, rotated and matched, and what a mistake in them says."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from majorops.shared.access import (
    Role,
    Token,
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
