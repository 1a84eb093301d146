"""Reminders' settings as an operator writes them: the interval, the time zone, the webhooks."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from majorops.reminders.config import RemindersSettings, WebhookStyle, WebhookTarget
from majorops.shared.settings import configuration_problem


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MAJOROPS_ESCALATION_INTERVAL",
        "MAJOROPS_TIMEZONE",
        "MAJOROPS_WEBHOOK_URLS",
        "MAJOROPS_SLACK_WEBHOOK_URLS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_escalate_daily_in_utc_without_webhooks() -> None:
    settings = RemindersSettings()
    assert settings.escalation_interval == timedelta(hours=24)
    assert settings.zone == ZoneInfo("UTC")
    assert settings.webhook_targets == ()


@pytest.mark.parametrize(
    ("value", "interval"),
    [
        ("PT2S", timedelta(seconds=2)),
        ("P1D", timedelta(days=1)),
        ("90", timedelta(seconds=90)),
        ("pt0.5s", timedelta(milliseconds=500)),
    ],
)
def test_the_interval_is_an_iso_8601_duration_or_seconds(
    monkeypatch: pytest.MonkeyPatch, value: str, interval: timedelta
) -> None:
    monkeypatch.setenv("MAJOROPS_ESCALATION_INTERVAL", value)
    assert RemindersSettings().escalation_interval == interval


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        (
            "MAJOROPS_ESCALATION_INTERVAL",
            "P1M",
            "MAJOROPS_ESCALATION_INTERVAL=P1M: escalation interval 'P1M' uses years or months",
        ),
        (
            "MAJOROPS_ESCALATION_INTERVAL",
            "-PT1H",
            "MAJOROPS_ESCALATION_INTERVAL=-PT1H: escalation interval '-PT1H' must be greater than zero",
        ),
        (
            "MAJOROPS_ESCALATION_INTERVAL",
            "daily",
            "MAJOROPS_ESCALATION_INTERVAL=daily: escalation interval 'daily' is not readable",
        ),
        (
            "MAJOROPS_TIMEZONE",
            "Mars/Olympus",
            "MAJOROPS_TIMEZONE=Mars/Olympus: unknown IANA time zone 'Mars/Olympus'",
        ),
        (
            "MAJOROPS_WEBHOOK_URLS",
            "ftp://x",
            "MAJOROPS_WEBHOOK_URLS=ftp://x: MAJOROPS_WEBHOOK_URLS: 'ftp://x' is not an http(s) URL",
        ),
        ("MAJOROPS_SLACK_WEBHOOK_URLS", "hooks.slack.com/x", "'hooks.slack.com/x' is not an http(s) URL"),
    ],
)
def test_an_unreadable_setting_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        RemindersSettings()
    message = configuration_problem(caught.value)
    assert problem.removeprefix(f"{variable}={value}: ") in message
    assert message.startswith(f"{variable}={value!r}: ")


def test_webhooks_are_listed_once_each_with_their_style_and_no_secret_in_their_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"
    monkeypatch.setenv(
        "MAJOROPS_WEBHOOK_URLS", " http://ops.example:8080/hook , http://ops.example:8080/hook,"
    )
    monkeypatch.setenv("MAJOROPS_SLACK_WEBHOOK_URLS", slack)
    targets = RemindersSettings().webhook_targets
    assert [(t.url, t.style) for t in targets] == [
        ("http://ops.example:8080/hook", WebhookStyle.GENERIC),
        (slack, WebhookStyle.SLACK),
    ]
    assert "SECRETTOKEN" not in targets[1].shown and "SECRETTOKEN" not in targets[1].key
    assert targets[1].shown.startswith("slack webhook https://hooks.slack.com/")
    assert WebhookTarget(slack, WebhookStyle.SLACK).key == targets[1].key  # stable across restarts
