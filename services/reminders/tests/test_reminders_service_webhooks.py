"""The webhook notifier: escalations POSTed as JSON and as Slack text, retried with back-off, and
dead-lettered with the reason when a webhook never accepts them.

Against real HTTP servers on 127.0.0.1 (plain asyncio, HTTP/1.1 with keep-alive) and the real
nats-server; the retry rules also with hand-written fakes, where time and answers are chosen.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import standardwebhooks
from nats.js import JetStreamContext

from majorops.reminders.bootstrap import RemindersRuntime
from majorops.reminders.config import RemindersSettings, WebhookStyle, WebhookTarget
from majorops.reminders.notifier import WebhookNotifier, backoff
from majorops.reminders.ports import WebhookUnreachable
from majorops.shared import subjects, testing
from majorops.shared.escalations import Escalation, Notify
from majorops.shared.testing import iso, stored_messages
from majorops.shared.webhook_signatures import (
    SignatureError,
    WebhookSecret,
    parse_secrets,
    signature_headers,
    verify_signature,
)

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


def decision_closed(incident: str, closed: datetime, revision: int = 1) -> bytes:
    return json.dumps(
        {
            "incident_id": incident,
            "revision": revision,
            "requirement": "mandatory",
            "severity": "critical",
            "closed_at": iso(closed),
            "deadlines": {
                "schedule_by": iso(closed + timedelta(days=1)),
                "hold_by": iso(closed + timedelta(days=9)),
            },
        }
    ).encode()


async def test_a_backdated_incident_pages_each_webhook_once_at_level_3_signed_retried_or_dead_lettered(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    flaky = WebhookServer(unique_id, failures=2)  # 503 twice per escalation, then accepted
    slack = WebhookServer(unique_id, failures=0)
    broken = WebhookServer(unique_id, failures=99, fail_status=500)  # never accepts
    servers = (flaky, slack, broken)
    for server in servers:
        await server.start()
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    settings = testing.settings_for(
        RemindersSettings,
        nats_url,
        data_dir,
        escalation_interval="PT1S",
        webhook_urls=f"{flaky.url},{broken.url}",
        slack_webhook_urls=slack.url,
        webhook_attempts=3,
        webhook_retry_seconds=0.05,
        webhook_secret=secret,
    )
    runtime = RemindersRuntime(settings)
    await runtime.start()
    try:
        # Closed two days ago, never scheduled: levels 1–3 all fell due long ago and fire at once.
        published_at = datetime.now(UTC)
        await js.publish(
            subjects.decision_subject(unique_id),
            decision_closed(unique_id, published_at - timedelta(days=2)),
            headers={"Nats-Msg-Id": f"{unique_id}:1"},
        )
        escalations = await eventually(
            lambda: messages(js, subjects.ESCALATIONS_STREAM, f"{subjects.ESCALATIONS_ROOT}.{unique_id}.>"),
            lambda got: len(got) == 3,
            "3 escalations",
        )
        letters = await eventually(
            lambda: messages(js, subjects.DEADLETTER_STREAM, subjects.deadletter_subject("reminders")),
            lambda got: sum(1 for letter, _ in got if f'"{unique_id}:' in letter["payload"]) == 1,
            "1 dead letter",
        )

        async def flaky_calls() -> int:
            return len(flaky.mine())

        await eventually(flaky_calls, lambda n: n == 3, "the flaky webhook's 3 calls")
        await asyncio.sleep(0.3)  # nothing more arrives
    finally:
        await runtime.stop()
        for server in servers:
            await server.stop()

    top = f"{unique_id}:after_action_not_scheduled:3"
    payloads = {body["escalation_id"]: body for body, _ in escalations}
    # NATS keeps the full record: every level, each marked late, the lower ones superseded by level 3.
    assert {i: (p["late"], p["superseded_by"]) for i, p in payloads.items()} == {
        f"{unique_id}:after_action_not_scheduled:1": (True, top),
        f"{unique_id}:after_action_not_scheduled:2": (True, top),
        top: (True, None),
    }
    # The outage of two webhooks delayed no escalation on JetStream.
    assert all(stored < published_at + timedelta(seconds=1) for _, stored in escalations)

    # People get one notification: level 3, to the engineering director.
    assert [c.headers["idempotency-key"] for c in flaky.mine()] == [top] * 3
    assert [c.status for c in flaky.mine()] == [503, 503, 200]
    delivered = flaky.mine()[-1]
    assert json.loads(delivered.body) == payloads[top]
    assert delivered.headers["content-type"] == "application/json"
    # Signed: the receiver verifies each attempt with the published algorithm and its secret.
    for call in flaky.mine():
        assert standardwebhooks.Webhook(secret).verify(call.body, call.headers) == payloads[top]
        assert call.headers["webhook-id"] == top

    assert [c.headers["idempotency-key"] for c in slack.mine()] == [top]
    assert json.loads(slack.mine()[0].body) == {"text": payloads[top]["message"]}
    assert "(level 3)" in payloads[top]["message"]

    assert len(broken.mine()) == 3  # 3 attempts at level 3 only
    mine = [letter for letter, _ in letters if f'"{unique_id}:' in letter["payload"]]
    assert [json.loads(letter["payload"])["escalation_id"] for letter in mine] == [top]
    for letter in mine:
        assert letter["service"] == "reminders"
        assert letter["subject"].startswith(f"majorops.escalations.{unique_id}.")
        assert letter["reason"].startswith("generic webhook http://127.0.0.1:")
        assert letter["reason"].endswith("failed after 3 attempts: HTTP 500")
        assert "SECRET" not in letter["reason"]


async def test_live_levels_reach_a_webhook_in_order_never_a_lower_after_a_higher(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    hook = WebhookServer(unique_id, failures=0)
    await hook.start()
    settings = testing.settings_for(
        RemindersSettings, nats_url, data_dir, escalation_interval="PT1S", webhook_urls=hook.url
    )
    runtime = RemindersRuntime(settings)
    await runtime.start()
    try:
        # schedule_by falls due a second from now: levels 1, 2, 3 come due one second apart.
        await js.publish(
            subjects.decision_subject(unique_id),
            decision_closed(unique_id, datetime.now(UTC) - timedelta(days=1) + timedelta(seconds=1)),
            headers={"Nats-Msg-Id": f"{unique_id}:1"},
        )

        async def levels() -> list[int]:
            return [json.loads(c.body)["level"] for c in hook.mine()]

        got = await eventually(levels, lambda got: bool(got) and got[-1] == 3, "level 3 at the webhook")
        await asyncio.sleep(0.3)
        got = await levels()
    finally:
        await runtime.stop()
        await hook.stop()
    # Live, each level is its own notification, in order (on a very loaded machine a level may be
    # overtaken by the next and then skipped, never sent after it).
    assert got == sorted(set(got)) and got[-1] == 3, got


# --- the retry rules, with fakes ------------------------------------------------------------------


class Outcomes:
    """The webhook-outcome part of the store port."""

    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], str] = {}
        self.levels: dict[tuple[str, str], int] = {}

    async def webhook_outcome(self, escalation_id: str, target_key: str) -> str | None:
        return self.saved.get((escalation_id, target_key))

    async def save_webhook_outcome(
        self, escalation_id: str, target_key: str, outcome: str, at: datetime
    ) -> None:
        self.saved.setdefault((escalation_id, target_key), outcome)

    async def claim_webhook_level(
        self, obligation_key: str, target_key: str, level: int, at: datetime
    ) -> bool:
        if self.levels.get((obligation_key, target_key), 0) > level:
            return False
        self.levels[(obligation_key, target_key)] = level
        return True

    async def webhook_level(self, obligation_key: str, target_key: str) -> int | None:
        return self.levels.get((obligation_key, target_key))


class ScriptedSender:
    """Answers from a script per URL: a status, or None for no answer."""

    def __init__(self, script: dict[str, list[int | None]]) -> None:
        self.script = script
        self.posts: list[str] = []
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.posts.append(url)
        self.requests.append((url, body, headers))
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


# --- one notification per obligation, at its highest level --------------------------------------


def level_of(n: int, **changes: Any) -> Escalation:
    return ESCALATION.model_copy(
        update={
            "escalation_id": f"INC-1:after_action_not_scheduled:{n}",
            "level": n,
            "notify": Notify(role={1: "mim", 2: "service_manager", 3: "engineering_director"}[n]),
            **changes,
        }
    )


async def no_dead_letter(target: WebhookTarget, reason: str) -> None:  # pragma: no cover - must not run
    raise AssertionError(f"dead letter for {target.shown}: {reason}")


async def test_a_superseded_or_already_met_level_is_kept_on_nats_but_not_sent_to_people() -> None:
    sender = ScriptedSender({GENERIC.url: [200], SLACK.url: [200]})
    outcomes = Outcomes()
    hooks = notifier(sender, outcomes, [])
    superseded = level_of(1, late=True, superseded_by="INC-1:after_action_not_scheduled:3")
    met = level_of(2, met_at=datetime(2026, 11, 22, 18, tzinfo=UTC))
    assert [r.outcome for r in await hooks.deliver(superseded, b"{}", no_dead_letter)] == ["superseded"] * 2
    assert [r.outcome for r in await hooks.deliver(met, b"{}", no_dead_letter)] == ["already_met"] * 2
    assert sender.posts == []
    assert outcomes.saved[(superseded.escalation_id, GENERIC.key)] == "superseded"


async def test_a_lower_level_arriving_after_a_higher_one_is_never_sent() -> None:
    # The 1, 3, 2 arrival a user saw: level 2 comes after level 3 reached the webhooks.
    sender = ScriptedSender({GENERIC.url: [200, 200], SLACK.url: [200, 200]})
    hooks = notifier(sender, Outcomes(), [])
    for n in (1, 3, 2):
        escalation = level_of(n)
        await hooks.deliver(escalation, escalation.model_dump_json().encode(), no_dead_letter)
    assert [json.loads(body)["level"] for url, body, _ in sender.requests if url == GENERIC.url] == [1, 3]


async def test_a_level_being_retried_stops_once_a_higher_level_reached_the_webhook() -> None:
    sender = ScriptedSender({GENERIC.url: [503, 200, 503], SLACK.url: [200, 200]})
    outcomes = Outcomes()
    level_2 = level_of(2)

    async def sleep(seconds: float) -> None:
        # While level 1 waits to be tried again, level 2 falls due and is delivered.
        if not outcomes.saved.get((level_2.escalation_id, GENERIC.key)):
            await hooks.deliver(level_2, json.dumps({"level": 2}).encode(), no_dead_letter)

    hooks = WebhookNotifier([GENERIC, SLACK], outcomes, sender, attempts=4, retry_seconds=1.0, sleep=sleep)  # type: ignore[arg-type]
    result = await hooks.deliver(level_of(1), json.dumps({"level": 1}).encode(), no_dead_letter)
    assert [r.outcome for r in result] == ["superseded", "delivered"]
    generic = [json.loads(body)["level"] for url, body, _ in sender.requests if url == GENERIC.url]
    assert generic == [1, 2]  # level 1 failed once; then only level 2 was sent


# --- signatures (Standard Webhooks) -------------------------------------------------------------


def test_a_secret_must_be_in_the_standard_form() -> None:
    for bad, why in (
        ("s3cret", "starts with 'whsec_'"),
        ("whsec_not base64!", "followed by base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "at least 16 bytes"),
    ):
        with pytest.raises(ValueError, match=why):
            WebhookSecret.parse(bad)
    assert "k3y" not in repr(WebhookSecret(b"k3y" * 8))


async def test_every_post_is_signed_so_the_published_algorithm_verifies_it() -> None:
    old, new = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    sender = ScriptedSender({GENERIC.url: [503, 200], SLACK.url: [200]})
    hooks = WebhookNotifier(
        [GENERIC, SLACK],
        Outcomes(),  # type: ignore[arg-type]
        sender,
        attempts=3,
        retry_seconds=0.0,
        secrets=parse_secrets(f"whsec_{new},whsec_{old}"),  # rotating: both sign
    )
    body = ESCALATION.model_dump_json().encode()
    await hooks.deliver(ESCALATION, body, no_dead_letter)
    assert len(sender.requests) == 3
    for _url, sent, headers in sender.requests:
        assert headers["webhook-id"] == ESCALATION.escalation_id
        for secret in (new, old):  # a receiver holding either secret verifies it
            verified = standardwebhooks.Webhook(f"whsec_{secret}").verify(sent, headers)
            assert verified == json.loads(sent)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(base64.b64encode(os.urandom(32)).decode()).verify(sent, headers)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(f"whsec_{new}").verify(sent + b" ", headers)


def test_a_signed_request_is_refused_when_old_or_tampered() -> None:
    secrets = parse_secrets("whsec_" + base64.b64encode(os.urandom(32)).decode())
    now = datetime.now(UTC)
    headers = signature_headers(secrets, "msg-1", b'{"a":1}', now)
    assert verify_signature(secrets, headers, b'{"a":1}', now) == "msg-1"
    with pytest.raises(SignatureError, match="no signature matches"):
        verify_signature(secrets, headers, b'{"a":2}', now)
    with pytest.raises(SignatureError, match="away from now"):
        verify_signature(secrets, headers, b'{"a":1}', now + timedelta(minutes=6))
    with pytest.raises(SignatureError, match="missing header"):
        verify_signature(secrets, {"webhook-id": "msg-1"}, b'{"a":1}', now)
