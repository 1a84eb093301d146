"""What ingest's key-value bucket ``majorops_ingest_seen`` says about an event id.

One key per id (:func:`seen_key`), whose value is one of:

- a *claim*: ``{"claimed": "<digest>", "subject": "<subject>"}`` — an ingest claimed the id for
  this content (:func:`~majorops.ingest.domain.batch.content_digest`) and is publishing it on that
  subject, or crashed before it recorded the outcome: the event may or may not be in the stream;
- a *digest* (64 hex digits) — the event with this content is in the stream;
- anything else — an id recorded by an ingest older than content digests (the value is a stream
  sequence): the event is in the stream, and counts as the same content as any.

Claims are written with a compare-and-set on the key's revision (KV ``create``/``update``, i.e. a
publish to ``$KV.<bucket>.<key>`` with ``Nats-Expected-Last-Subject-Sequence``), so exactly one
request holds the latest claim of an id.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

_DIGEST = re.compile(rb"[0-9a-f]{64}")


def seen_key(event_id: str) -> str:
    """Key-value keys allow a narrow alphabet; event ids are free text up to 128 characters."""
    return hashlib.sha256(event_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SeenEntry:
    """The bucket's entry for an id, at ``revision``."""

    revision: int
    digest: str | None
    """The content's digest; None for an id recorded before digests were (same content as any)."""
    claimed_on: str | None = None
    """Set while the id is only claimed: the subject the claimant publishes on."""

    @property
    def claimed(self) -> bool:
        return self.claimed_on is not None

    def same_content(self, digest: str) -> bool:
        return self.digest is None or self.digest == digest


def claim_value(digest: str, subject: str) -> bytes:
    return json.dumps({"claimed": digest, "subject": subject}, separators=(",", ":")).encode()


def parse_entry(value: bytes | None, revision: int) -> SeenEntry:
    """What an entry's value says (see the module's docstring)."""
    value = value or b""
    if _DIGEST.fullmatch(value):
        return SeenEntry(revision, value.decode())
    if value.startswith(b"{"):
        try:
            claim = json.loads(value)
        except ValueError:
            claim = None
        if (
            isinstance(claim, dict)
            and isinstance(claim.get("claimed"), str)
            and _DIGEST.fullmatch(claim["claimed"].encode())
            and isinstance(claim.get("subject"), str)
        ):
            return SeenEntry(revision, claim["claimed"], claim["subject"])
    return SeenEntry(revision, None)
