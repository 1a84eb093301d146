"""Standard Webhooks signatures (https://www.standardwebhooks.com, the scheme Svix and others use).

A signed request carries three headers:

- ``webhook-id``: the message id, the same on every retry (receivers deduplicate on it);
- ``webhook-timestamp``: Unix seconds when this attempt was signed (receivers refuse old ones);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``, several
  separated by spaces while a secret is being rotated (one per secret).

Secrets are written as ``whsec_`` + base64 of the key bytes; the key is the decoded bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_KEY_BYTES = 16
GENERATE_HINT = "python3 -c 'import base64,secrets; print(\"whsec_\" + base64.b64encode(secrets.token_bytes(32)).decode())'"


class SignatureError(ValueError):
    """A request whose signature headers are missing, malformed, outside the window or not matching."""


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    """One signing key, read from its ``whsec_…`` form; :meth:`__repr__` never shows the key."""

    key: bytes

    @classmethod
    def parse(cls, text: str) -> WebhookSecret:
        """``whsec_`` + base64 of at least 16 bytes; raises ``ValueError`` saying what is wrong."""
        value = text.strip()
        if not value.startswith(SECRET_PREFIX):
            raise ValueError(
                f"a webhook secret starts with {SECRET_PREFIX!r}; generate one with: {GENERATE_HINT}"
            )
        try:
            key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"a webhook secret is {SECRET_PREFIX!r} followed by base64") from None
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a webhook secret needs at least {MIN_KEY_BYTES} bytes of key, got {len(key)}")
        return cls(key)

    def __repr__(self) -> str:
        return "WebhookSecret(***)"

    def signature(self, message_id: str, timestamp: int, body: bytes) -> str:
        """``v1,<base64>`` for this key."""
        signed = f"{message_id}.{timestamp}.".encode() + body
        digest = hmac.new(self.key, signed, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()


def parse_secrets(text: str) -> tuple[WebhookSecret, ...]:
    """Comma-separated ``whsec_…`` secrets (several while rotating); empty text gives none."""
    return tuple(WebhookSecret.parse(part) for part in text.split(",") if part.strip())


def signature_headers(
    secrets: Sequence[WebhookSecret], message_id: str, body: bytes, at: datetime
) -> dict[str, str]:
    """The three headers of a request signed with every secret at ``at`` (none without secrets)."""
    if not secrets:
        return {}
    timestamp = int(at.timestamp())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(secret.signature(message_id, timestamp, body) for secret in secrets),
    }


def verify_signature(
    secrets: Sequence[WebhookSecret],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    tolerance_seconds: int = 300,
) -> str:
    """Check a signed request; return its ``webhook-id``, or raise :class:`SignatureError`.

    The timestamp must be within ``tolerance_seconds`` of ``now`` either way (replays of an old
    request are refused), and one ``v1`` signature must match one of the secrets.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    missing = [
        name
        for name, value in (
            ("webhook-id", message_id),
            ("webhook-timestamp", stamp),
            ("webhook-signature", signatures),
        )
        if not value
    ]
    if missing or message_id is None or stamp is None or signatures is None:
        raise SignatureError(f"missing header(s): {', '.join(missing)}")
    if not stamp.isdigit():
        raise SignatureError("webhook-timestamp is not Unix seconds")
    timestamp = int(stamp)
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise SignatureError(f"webhook-timestamp is more than {tolerance_seconds} s away from now")
    given = [part for part in signatures.split(" ") if part]
    for secret in secrets:
        expected = secret.signature(message_id, timestamp, body)
        if any(hmac.compare_digest(expected, candidate) for candidate in given):
            return message_id
    raise SignatureError("no signature matches")
