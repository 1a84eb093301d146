"""The webhook notifier's HTTP client (httpx)."""

from __future__ import annotations

import httpx

from majorops.reminders.ports import WebhookUnreachable


class HttpxWebhookSender:
    """:class:`~majorops.reminders.ports.WebhookSender` with one pooled client; redirects not followed
    (a webhook that moved is a configuration error to see, not to guess)."""

    def __init__(self, timeout_seconds: float) -> None:
        self.client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # The exception's text, not the URL: webhook URLs often carry a secret.
            raise WebhookUnreachable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        return response.status_code

    async def close(self) -> None:
        await self.client.aclose()
