"""Reminders' probes over real HTTP, in-process: ``/healthz`` at once, ``/readyz`` only once NATS is
connected, both durables bound and the store answers, ``/metrics`` counting escalations by kind and
level as they are published."""

from __future__ import annotations

from pathlib import Path

from majorops.reminders.bootstrap import RemindersRuntime
from majorops.reminders.config import RemindersSettings
from majorops.shared import subjects, testing
from majorops.shared.testing import (
    connected_jetstream,
    contract_example_events,
    contract_example_published,
    eventually,
    http_get,
    metric,
    publish_decision,
    publish_event,
    running,
    scrape,
    unused_port,
)
from majorops.shared.testkit import serving_probes


def settings_for(nats_url: str, data_dir: Path) -> RemindersSettings:
    return testing.settings_for(RemindersSettings, nats_url, data_dir, reminders_http_port=unused_port())


async def test_probes_and_the_escalations_of_a_backdated_incident_in_the_metrics(
    own_nats_url: str, data_dir: Path, unique_id: str
) -> None:
    """On a server of its own: the total counts every escalation reminders published, so a decision
    another test left on a shared server would be counted too."""
    runtime = RemindersRuntime(settings_for(own_nats_url, data_dir))
    async with serving_probes(runtime) as probes, connected_jetstream(own_nats_url) as js:
        assert (await http_get(f"{probes.url}/healthz")).status_code == 200
        before = await http_get(f"{probes.url}/readyz")
        assert before.status_code == 503
        assert before.json()["checks"] == {"nats": False, "durables": False, "loops": True, "store": False}
        async with running(runtime):
            ready = await http_get(f"{probes.url}/readyz")
            assert ready.status_code == 200, ready.text
            # CONTRACT §3's P1, closed 2026-11-20: both obligations are overdue by every level at once.
            for event in contract_example_events(unique_id):
                await publish_event(js, event)
            await publish_decision(js, contract_example_published(unique_id, revision=1))

            def escalated(text: str) -> bool:
                return all(
                    metric(text, "majorops_escalations_total", service="reminders", kind=kind, level=level)
                    >= 1
                    for kind in ("after_action_not_scheduled", "after_action_not_held")
                    for level in ("1", "2", "3")
                )

            text = await eventually(lambda: scrape(probes.url), escalated, "six escalations counted")
    assert metric(text, "majorops_escalations_total", service="reminders") == 6
    for stream in (subjects.EVENTS_STREAM, subjects.DECISIONS_STREAM):
        assert metric(text, "majorops_handler_seconds_count", service="reminders", stream=stream) >= 1
    for durable in ("reminders-events", "reminders-decisions"):
        assert f'durable="{durable}"' in text
    assert metric(text, "majorops_store_seconds_count", service="reminders") > 0
    assert unique_id not in text
