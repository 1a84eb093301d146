"""The webhook notifier: escalations POSTed as JSON and as Slack text, retried with back-off, and
dead-lettered with the reason when a webhook never accepts them.

Against real HTTP servers on 127.0.0.1 (plain asyncio, HTTP/1.1 with keep-alive) and the real
nats-server; the retry rules also with hand-written fakes, where time and answers are chosen.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from nats.js import JetStreamContext

from majorops.reminders.app import RemindersRuntime
from majorops.reminders.config import RemindersSettings, WebhookStyle, WebhookTarget
from majorops.reminders.notifier import WebhookNotifier, backoff
from majorops.reminders.ports import WebhookUnreachable
from majorops.shared import subjects, testing
from majorops.shared.escalations import Escalation
from majorops.shared.testing import iso, stored_messages

T = TypeVar("T")


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class WebhookServer:
    """An HTTP server answering ``fail_status`` to the first ``failures`` POSTs of each escalation id
    (its ``Idempotency-Key``) of the watched incident, then 200; other incidents always get 200."""

    incident: str
    failures: int
    fail_status: int = 503
    calls: list[Call] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}/hooks/T0SECRET/B1SECRET"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def mine(self) -> list[Call]:
        return [c for c in self.calls if c.headers.get("idempotency-key", "").startswith(f"{self.incident}:")]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (line.split(":", 1) for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                key = headers.get("idempotency-key", "")
                earlier = sum(1 for c in self.calls if c.headers.get("idempotency-key") == key)
                failing = key.startswith(f"{self.incident}:") and earlier < self.failures
                status = self.fail_status if failing else 200
                self.calls.append(Call(path, headers, body, status))
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            writer.close()


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str, timeout: float = 15.0
) -> T:
    return await testing.eventually(probe, done, what, timeout)


async def messages(js: JetStreamContext, stream: str, subject: str) -> list[tuple[dict[str, Any], datetime]]:
    found = await stored_messages(js, stream, subject)
    assert all(msg.data is not None and msg.time is not None for msg in found)
    return [(json.loads(msg.data), msg.time) for msg in found]


async def test_escalations_reach_every_webhook_once_after_retries_or_are_dead_lettered(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    flaky = WebhookServer(unique_id, failures=2)  # 503 twice per escalation, then accepted
    slack = WebhookServer(unique_id, failures=0)
    broken = WebhookServer(unique_id, failures=99, fail_status=500)  # never accepts
    servers = (flaky, slack, broken)
    for server in servers:
        await server.start()
    settings = testing.settings_for(
        RemindersSettings,
        nats_url,
        data_dir,
        escalation_interval="PT1S",
        webhook_urls=f"{flaky.url},{broken.url}",
        slack_webhook_urls=slack.url,
        webhook_attempts=3,
        webhook_retry_seconds=0.05,
    )
    runtime = RemindersRuntime(settings)
    await runtime.start()
    try:
        closed = datetime.now(UTC) - timedelta(days=2)
        published_at = datetime.now(UTC)
        await js.publish(
            subjects.decision_subject(unique_id),
            json.dumps(
                {
                    "incident_id": unique_id,
                    "revision": 1,
                    "requirement": "mandatory",
                    "severity": "high",
                    "closed_at": iso(closed),
                    "deadlines": {
                        "schedule_by": iso(closed + timedelta(days=1)),
                        "hold_by": iso(closed + timedelta(days=9)),
                    },
                }
            ).encode(),
            headers={"Nats-Msg-Id": f"{unique_id}:1"},
        )
        escalations = await eventually(
            lambda: messages(js, subjects.ESCALATIONS_STREAM, f"{subjects.ESCALATIONS_ROOT}.{unique_id}.>"),
            lambda got: len(got) == 3,
            "3 escalations",
        )
        letters = await eventually(
            lambda: messages(js, subjects.DEADLETTER_STREAM, subjects.deadletter_subject("reminders")),
            lambda got: sum(1 for letter, _ in got if f'"{unique_id}:' in letter["payload"]) == 3,
            "3 dead letters",
        )

        async def flaky_calls() -> int:
            return len(flaky.mine())

        await eventually(flaky_calls, lambda n: n == 9, "the flaky webhook's 9 calls")
        await asyncio.sleep(0.3)  # nothing more arrives
    finally:
        await runtime.stop()
        for server in servers:
            await server.stop()

    ids = sorted(body["escalation_id"] for body, _ in escalations)
    payloads = {body["escalation_id"]: body for body, _ in escalations}
    # The outage of two webhooks delayed no escalation on JetStream.
    assert all(stored < published_at + timedelta(seconds=1) for _, stored in escalations)

    accepted = [c for c in flaky.mine() if c.status == 200]
    assert sorted(c.headers["idempotency-key"] for c in accepted) == ids
    assert [c.status for c in flaky.mine()].count(503) == 6
    for call in accepted:
        assert json.loads(call.body) == payloads[call.headers["idempotency-key"]]
        assert call.headers["content-type"] == "application/json"

    assert sorted(c.headers["idempotency-key"] for c in slack.mine()) == ids
    for call in slack.mine():
        assert json.loads(call.body) == {"text": payloads[call.headers["idempotency-key"]]["message"]}

    assert len(broken.mine()) == 9  # 3 attempts each
    mine = [letter for letter, _ in letters if f'"{unique_id}:' in letter["payload"]]
    assert sorted(json.loads(letter["payload"])["escalation_id"] for letter in mine) == ids
    for letter in mine:
        assert letter["service"] == "reminders"
        assert letter["subject"].startswith(f"majorops.escalations.{unique_id}.")
        assert letter["reason"].startswith("generic webhook http://127.0.0.1:")
        assert letter["reason"].endswith("failed after 3 attempts: HTTP 500")
        assert "SECRET" not in letter["reason"]


# --- the retry rules, with fakes ------------------------------------------------------------------


class Outcomes:
    """The webhook-outcome part of the store port."""

    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], str] = {}

    async def webhook_outcome(self, escalation_id: str, target_key: str) -> str | None:
        return self.saved.get((escalation_id, target_key))

    async def save_webhook_outcome(
        self, escalation_id: str, target_key: str, outcome: str, at: datetime
    ) -> None:
        self.saved.setdefault((escalation_id, target_key), outcome)


class ScriptedSender:
    """Answers from a script per URL: a status, or None for no answer."""

    def __init__(self, script: dict[str, list[int | None]]) -> None:
        self.script = script
        self.posts: list[str] = []

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.posts.append(url)
        answer = self.script[url].pop(0)
        if answer is None:
            raise WebhookUnreachable("ConnectError: connection refused")
        return answer


ESCALATION = Escalation(
    escalation_id="INC-1:after_action_not_scheduled:1",
    incident_id="INC-1",
    kind="after_action_not_scheduled",
    level=1,
    due_at=datetime(2026, 11, 21, 12, tzinfo=UTC),
    fired_at=datetime(2026, 11, 21, 12, 0, 1, tzinfo=UTC),
    notify={"role": "mim", "person": "Dana Reyes"},
    message="After Action for INC-1 not scheduled within 24 h of close (due 2026-11-21 12:00 UTC); schedule it now.",
)
GENERIC = WebhookTarget("http://ops.example/hook", WebhookStyle.GENERIC)
SLACK = WebhookTarget("https://hooks.slack.com/services/T/B/SECRET", WebhookStyle.SLACK)


def notifier(sender: ScriptedSender, outcomes: Outcomes, pauses: list[float]) -> WebhookNotifier:
    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    return WebhookNotifier([GENERIC, SLACK], outcomes, sender, attempts=4, retry_seconds=1.0, sleep=sleep)  # type: ignore[arg-type]


async def test_no_answer_and_5xx_are_retried_with_doubling_pauses_a_4xx_is_final_at_once() -> None:
    sender = ScriptedSender({GENERIC.url: [None, 502, 429, 204], SLACK.url: [404]})
    outcomes, pauses, letters = Outcomes(), list[float](), list[Any]()

    async def dead_letter(target: WebhookTarget, reason: str) -> None:
        letters.append((target, reason))

    keep_alive_calls = []

    async def keep_alive() -> None:
        keep_alive_calls.append(1)

    result = await notifier(sender, outcomes, pauses).deliver(ESCALATION, b"{}", dead_letter, keep_alive)
    assert [(r.target.style, r.outcome, r.attempts) for r in result] == [
        (WebhookStyle.GENERIC, "delivered", 4),
        (WebhookStyle.SLACK, "dead_lettered", 1),
    ]
    assert sorted(pauses) == [1.0, 2.0, 4.0]
    assert len(keep_alive_calls) == 3  # JetStream is told before each pause
    assert letters == [(SLACK, f"{SLACK.shown} failed after 1 attempt: HTTP 404")]
    assert "SECRET" not in letters[0][1]


async def test_an_escalation_delivered_again_is_not_posted_again() -> None:
    sender = ScriptedSender({GENERIC.url: [200], SLACK.url: [None, None, None, None]})
    outcomes, pauses, letters = Outcomes(), list[float](), list[Any]()

    async def dead_letter(target: WebhookTarget, reason: str) -> None:
        letters.append(reason)

    await notifier(sender, outcomes, pauses).deliver(ESCALATION, b"{}", dead_letter)
    assert letters == [f"{SLACK.shown} failed after 4 attempts: no answer (ConnectError: connection refused)"]
    posts = len(sender.posts)
    again = await notifier(sender, outcomes, pauses).deliver(ESCALATION, b"{}", dead_letter)
    assert [r.outcome for r in again] == ["already", "already"]
    assert len(sender.posts) == posts and len(letters) == 1


def test_backoff_doubles_up_to_half_a_minute() -> None:
    assert [backoff(1.0, n) for n in (1, 2, 3, 6, 9)] == [1.0, 2.0, 4.0, 30.0, 30.0]
