"""Policy's probes over real HTTP, in-process: what an operator's probes and Prometheus see.

``/healthz`` answers while the process runs; ``/readyz`` only once NATS is connected, the durable is
bound and the store answers; ``/metrics`` counts decisions, dead letters, handler and store time, and
the durable's backlog.
"""

from __future__ import annotations

from pathlib import Path

from nats.js import JetStreamContext

from majorops.policy.bootstrap import PolicyRuntime
from majorops.policy.config import PolicySettings
from majorops.shared import subjects, testing
from majorops.shared.connecting import connect_broker
from majorops.shared.testing import eventually, http_get, metric, publish_event, running, scrape, unused_port
from majorops.shared.testkit import serving_probes

DURABLE = subjects.durable_name("policy", subjects.EVENTS_STREAM)


def settings_for(nats_url: str, data_dir: Path) -> PolicySettings:
    return testing.settings_for(PolicySettings, nats_url, data_dir, policy_http_port=unused_port())


def declared(incident: str, n: int = 1) -> dict[str, object]:
    return testing.event_envelope(
        incident,
        f"{incident}-e{n}",
        "majorops.incident.declared",
        "2026-11-20T09:14:00Z",
        {"title": "Checkout latency", "severity": "P1"},
    )


async def test_probes_say_alive_at_once_and_ready_only_once_started(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    runtime = PolicyRuntime(settings_for(nats_url, data_dir))
    async with serving_probes(runtime) as probes:
        assert (await http_get(f"{probes.url}/healthz")).json() == {"status": "ok"}
        before = await http_get(f"{probes.url}/readyz")
        assert before.status_code == 503
        assert before.json() == {
            "status": "not ready",
            "checks": {"nats": False, "durables": False, "loops": True, "store": False},
        }
        async with running(runtime):
            ready = await http_get(f"{probes.url}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {
                "status": "ready",
                "checks": {"nats": True, "durables": True, "loops": True, "store": True},
            }

            await publish_event(js, declared(unique_id))
            # The decision is counted inside the handler; the handler's time and the ack after it.
            text = await eventually(
                lambda: scrape(probes.url),
                lambda t: (
                    metric(t, "majorops_decisions_total", service="policy", requirement="mandatory") >= 1
                    and metric(
                        t, "majorops_handler_seconds_count", service="policy", stream=subjects.EVENTS_STREAM
                    )
                    >= 1
                    and metric(t, "majorops_messages_total", service="policy", outcome="acked") >= 1
                ),
                "the decision, the handler's time and the ack counted",
            )
        after = await http_get(f"{probes.url}/readyz")
        assert after.status_code == 503, "stopped: not ready any more"
    assert metric(text, "majorops_store_seconds_count", service="policy", operation="append_events") >= 1
    assert metric(text, "majorops_consumer_pending_messages", service="policy", durable=DURABLE) >= 0
    assert f'durable="{DURABLE}"' in text
    assert unique_id not in text


async def test_the_pending_gauge_shows_a_backlog_and_the_dead_letter_counter_a_poison_message(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str
) -> None:
    runtime = PolicyRuntime(settings_for(nats_url, data_dir))
    async with serving_probes(runtime) as probes:
        # Connected, the durable created, nothing consumed yet: what arrives now waits.
        await runtime.store.open()
        await connect_broker(runtime.broker, runtime.consumers)
        try:
            for n in range(1, 6):
                await publish_event(js, declared(unique_id, n))
            waiting = await scrape(probes.url)
            assert metric(waiting, "majorops_consumer_pending_messages", durable=DURABLE) >= 5
            assert (await http_get(f"{probes.url}/readyz")).json()["checks"] == {
                "nats": True,
                "durables": False,
                "loops": True,
                "store": True,
            }
        finally:
            await runtime.stop()

        runtime = PolicyRuntime(settings_for(nats_url, data_dir))
        probes = runtime.probes()
        assert probes is not None
        async with probes, running(runtime):
            before = await scrape(probes.url)
            poison = subjects.event_subject(unique_id, "majorops.incident.declared")
            await js.publish(poison, b"{not json", headers={"Nats-Msg-Id": f"{unique_id}-garbage"})
            after = await eventually(
                lambda: scrape(probes.url),
                lambda t: (
                    metric(t, "majorops_dead_letters_total", service="policy", reason="poison") >= 1
                    and metric(t, "majorops_consumer_pending_messages", durable=DURABLE) == 0
                ),
                "the poison message dead-lettered and the backlog consumed",
            )
    assert metric(before, "majorops_dead_letters_total", reason="poison") == 0
    assert metric(after, "majorops_messages_total", outcome="dead_lettered") == 1
