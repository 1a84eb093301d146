"""The webhook notifier: each escalation POSTed to the configured webhooks, retried, dead-lettered.

It reads the escalations stream with its own durable consumer (``reminders-notifier-escalations``),
apart from the scheduler, so a webhook outage never delays an escalation on JetStream: other systems
subscribed to ``majorops.escalations.>`` get it on time whatever the webhooks do.

Per escalation and webhook:

- generic webhooks (``MAJOROPS_WEBHOOK_URLS``) receive the escalation JSON exactly as published;
  Slack-compatible ones (``MAJOROPS_SLACK_WEBHOOK_URLS``) receive ``{"text": <message>}``. Both get an
  ``Idempotency-Key`` header = the escalation id, for receivers that deduplicate, and with
  ``MAJOROPS_WEBHOOK_SECRET`` the Standard Webhooks signature headers (``webhook-id`` = the
  escalation id, ``webhook-timestamp``, ``webhook-signature``), signed again at every attempt;
- people are notified once per obligation, at the highest level it has reached, never a lower level
  after a higher one: an escalation ``superseded_by`` a higher level (a late burst fires levels 1–3
  together) or already ``met`` when it fired (late history) is kept on JetStream and not POSTed; and
  before POSTing level N of an obligation the notifier records N as that webhook's level of it,
  unless a higher level is recorded already (then N is skipped as superseded) — across replicas and
  between retries, since a higher level recorded while N retries stops N's retries;
- a 2xx answer is delivered; no answer, a 5xx, 408, 425 or 429 is tried again after a back-off that
  doubles (``MAJOROPS_WEBHOOK_RETRY_SECONDS``, up to ``MAJOROPS_WEBHOOK_ATTEMPTS`` tries); any other
  answer (a 4xx: wrong URL, revoked token) will not get better and is final at once;
- a final failure is published to ``majorops.deadletter.reminders`` with the reason, never dropped;
- the outcome is stored per (escalation, webhook), so an escalation delivered again by JetStream
  (a crash before the ack) is not POSTed again to a webhook that already has it. The one window left:
  a crash after a webhook answered and before the outcome was stored posts it once more (at least
  once — hence the idempotency key).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from majorops.reminders.config import WebhookStyle, WebhookTarget
from majorops.reminders.ports import Clock, RemindersStore, WebhookSender, WebhookUnreachable, utc_now
from majorops.shared.escalations import Escalation
from majorops.shared.webhook_signatures import WebhookSecret, signature_headers

log = structlog.get_logger(__name__)

MAX_BACKOFF_SECONDS = 30.0
RETRYABLE_STATUSES = frozenset({408, 425, 429})
DELIVERED = "delivered"
DEAD_LETTERED = "dead_lettered"
SUPERSEDED = "superseded"
"""A higher level of the same obligation was (or is being) notified instead."""
ALREADY_MET = "already_met"
"""The record showed the obligation met when the level fired: nobody needs to act on it."""

DeadLetterWebhook = Callable[[WebhookTarget, str], Awaitable[None]]
"""Publishes the dead letter of an escalation a webhook never accepted, with the reason."""
KeepAlive = Callable[[], Awaitable[None]]
"""Tells JetStream the message is still being worked on (so it is not redelivered meanwhile)."""


async def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    target: WebhookTarget
    outcome: str
    """``delivered``, ``dead_lettered``, ``superseded``, ``already_met``, or ``already`` when a previous
    delivery settled it."""
    attempts: int = 0
    reason: str | None = None


def webhook_body(target: WebhookTarget, escalation: Escalation, payload: bytes) -> bytes:
    """What one webhook receives: the escalation as published, or Slack's ``{"text": message}``."""
    if target.style == WebhookStyle.SLACK:
        return json.dumps({"text": escalation.message}, ensure_ascii=False).encode()
    return payload


def retryable(status: int) -> bool:
    """Whether an HTTP answer may turn into a success if tried again."""
    return status >= 500 or status in RETRYABLE_STATUSES


def backoff(retry_seconds: float, attempt: int) -> float:
    """The pause after failed attempt ``attempt`` (1-based): doubling, capped."""
    return float(min(retry_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))


@dataclass
class WebhookNotifier:
    """Delivers escalations to every configured webhook."""

    targets: Sequence[WebhookTarget]
    store: RemindersStore
    sender: WebhookSender
    attempts: int = 5
    retry_seconds: float = 1.0
    secrets: Sequence[WebhookSecret] = ()
    clock: Clock = utc_now
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def deliver(
        self,
        escalation: Escalation,
        payload: bytes,
        dead_letter: DeadLetterWebhook,
        keep_alive: KeepAlive = _nothing,
    ) -> list[WebhookOutcome]:
        """POST the escalation to every webhook that does not have it yet, all at once.

        Raises only when an outcome could not be stored or a dead letter not published: the caller
        then lets JetStream deliver the escalation again later.
        """
        return list(
            await asyncio.gather(
                *(self._deliver_one(t, escalation, payload, dead_letter, keep_alive) for t in self.targets)
            )
        )

    async def _deliver_one(
        self,
        target: WebhookTarget,
        escalation: Escalation,
        payload: bytes,
        dead_letter: DeadLetterWebhook,
        keep_alive: KeepAlive,
    ) -> WebhookOutcome:
        escalation_id = escalation.escalation_id
        bound = log.bind(
            incident_id=escalation.incident_id, escalation_id=escalation_id, webhook=target.shown
        )
        if await self.store.webhook_outcome(escalation_id, target.key) is not None:
            return WebhookOutcome(target, "already")
        skipped = await self._skip_reason(escalation, target)
        if skipped is not None:
            outcome, why = skipped
            await self.store.save_webhook_outcome(escalation_id, target.key, outcome, self.clock())
            bound.info("webhook.skipped", outcome=outcome, reason=why)
            return WebhookOutcome(target, outcome, reason=why)
        body = webhook_body(target, escalation, payload)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": escalation_id,
            "User-Agent": "majorops-reminders",
        }
        reason = ""
        attempt = 0
        for attempt in range(1, self.attempts + 1):
            if attempt > 1 and await self._overtaken(escalation, target):
                why = "a higher level of the obligation reached the webhook while this one was retried"
                await self.store.save_webhook_outcome(escalation_id, target.key, SUPERSEDED, self.clock())
                bound.info("webhook.skipped", outcome=SUPERSEDED, reason=why, attempts=attempt - 1)
                return WebhookOutcome(target, SUPERSEDED, attempt - 1, why)
            signed = headers | signature_headers(self.secrets, escalation_id, body, self.clock())
            try:
                status = await self.sender.post(target.url, body, signed)
            except WebhookUnreachable as exc:
                reason = f"no answer ({exc})"
            else:
                if 200 <= status < 300:
                    await self.store.save_webhook_outcome(escalation_id, target.key, DELIVERED, self.clock())
                    bound.info("webhook.delivered", attempts=attempt, status=status)
                    return WebhookOutcome(target, DELIVERED, attempt)
                reason = f"HTTP {status}"
                if not retryable(status):
                    break
            if attempt < self.attempts:
                pause = backoff(self.retry_seconds, attempt)
                bound.warning("webhook.retry", attempt=attempt, reason=reason, retry_in_s=pause)
                await keep_alive()
                await self.sleep(pause)
        final = f"{target.shown} failed after {attempt} attempt{'s' if attempt != 1 else ''}: {reason}"
        bound.error("webhook.failed", attempts=attempt, reason=reason)
        await dead_letter(target, final)
        await self.store.save_webhook_outcome(escalation_id, target.key, DEAD_LETTERED, self.clock())
        return WebhookOutcome(target, DEAD_LETTERED, attempt, final)

    async def _skip_reason(self, escalation: Escalation, target: WebhookTarget) -> tuple[str, str] | None:
        """Why a person need not get this level at this webhook (and the outcome), or None to send it.

        Sending claims the level: the webhook's recorded level of the obligation becomes this one.
        """
        if escalation.superseded_by is not None:
            return SUPERSEDED, f"{escalation.superseded_by} fell due by the same moment"
        if escalation.met_at is not None:
            return ALREADY_MET, "the record showed the obligation met when the level fired"
        claimed = await self.store.claim_webhook_level(
            escalation.obligation_key, target.key, escalation.level, self.clock()
        )
        if not claimed:
            return SUPERSEDED, "a higher level of the obligation was already notified"
        return None

    async def _overtaken(self, escalation: Escalation, target: WebhookTarget) -> bool:
        level = await self.store.webhook_level(escalation.obligation_key, target.key)
        return level is not None and level > escalation.level
