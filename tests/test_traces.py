"""One event's path through the system is one trace: ingest's request and publish, policy's handling
and decision, reminders' handling and escalations, reports' handling — all four services in-process
on a real nats-server, the spans recorded in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from majorops.ingest.bootstrap import create_app as create_ingest
from majorops.ingest.config import IngestSettings
from majorops.policy.bootstrap import PolicyRuntime
from majorops.policy.config import PolicySettings
from majorops.reminders.bootstrap import RemindersRuntime
from majorops.reminders.config import RemindersSettings
from majorops.reports.bootstrap import create_app as create_reports
from majorops.reports.config import ReportsSettings
from majorops.shared import subjects, testing
from majorops.shared.testing import (
    INGEST_TOKEN,
    bearer,
    contract_example_events,
    eventually,
    recorded_spans,
    running,
)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
"""A caller's own trace (W3C example ids): the event's whole path must join it."""
CALLER_TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


@pytest.fixture
async def ingest(nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_ingest(IngestSettings(nats_url=nats_url, **testing.TOKEN_SETTINGS))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as http,
    ):
        yield http


@pytest.fixture
async def reports(nats_url: str, data_dir: Path) -> AsyncIterator[None]:
    settings = testing.settings_for(ReportsSettings, nats_url, data_dir, assemble_delay_seconds=0.01)
    app = create_reports(settings)
    async with app.router.lifespan_context(app):
        yield


def named(spans: list[ReadableSpan], name: str, group: str | None = None) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.name == name
        and (group is None or (s.attributes or {}).get("messaging.consumer.group.name") == group)
    ]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def descends_from(span: ReadableSpan, ancestor: ReadableSpan, spans: list[ReadableSpan]) -> bool:
    """Whether ``ancestor`` is up ``span``'s chain of parents (FastAPI's own operation spans may be
    in between)."""
    by_id = {span_id(s): s for s in spans}
    parent = parent_of(span)
    while parent is not None:
        if parent == span_id(ancestor):
            return True
        parent = parent_of(by_id[parent]) if parent in by_id else None
    return False


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


async def test_an_events_path_through_every_service_is_one_trace(
    nats_url: str,
    js: JetStreamContext,
    data_dir: Path,
    unique_id: str,
    ingest: httpx.AsyncClient,
    reports: None,
) -> None:
    policy = PolicyRuntime(testing.settings_for(PolicySettings, nats_url, data_dir))
    reminders = RemindersRuntime(testing.settings_for(RemindersSettings, nats_url, data_dir))
    with recorded_spans() as spans:
        async with running(policy, reminders):
            # CONTRACT §3's P1, backdated: policy decides it mandatory, reminders escalates at once.
            posted = await ingest.post(
                "/v1/events",
                json=contract_example_events(unique_id),
                headers={**bearer(INGEST_TOKEN), "traceparent": TRACEPARENT},
            )
            assert posted.status_code == 202, posted.text

            def in_trace() -> list[ReadableSpan]:
                return [s for s in spans if s.context is not None and s.context.trace_id == CALLER_TRACE_ID]

            async def reports_handled() -> list[ReadableSpan]:
                return named(in_trace(), f"process {subjects.ESCALATIONS_STREAM}", "reports")

            await eventually(reports_handled, lambda found: len(found) >= 6, "reports handling 6 escalations")
        traced = in_trace()

    (server,) = [s for s in traced if s.kind is SpanKind.SERVER]
    assert server.name == "POST /v1/events"
    assert server.parent is not None and server.parent.span_id == 0x00F067AA0BA902B7
    assert (server.attributes or {})["http.response.status_code"] == 202
    (ingest_publish,) = named(traced, "publish majorops.events")
    assert descends_from(ingest_publish, server, traced)
    assert (ingest_publish.attributes or {})["messaging.batch.message_count"] == 4

    # Every consumer of the events stream handled each event as a child of ingest's publish.
    for service in ("policy", "reminders", "reports"):
        handled = named(traced, f"process {subjects.EVENTS_STREAM}", service)
        assert len(handled) == 4, service
        assert {parent_of(s) for s in handled} == {span_id(ingest_publish)}
        assert {(s.attributes or {})["majorops.incident_id"] for s in handled} == {unique_id}
    policy_handled = {span_id(s) for s in named(traced, f"process {subjects.EVENTS_STREAM}", "policy")}

    # Policy's decision is published under its handling of the events, and handled downstream.
    decisions = named(traced, "publish majorops.decisions")
    assert decisions, "policy's decision publish is in the trace"
    assert {parent_of(s) for s in decisions} <= policy_handled
    decision_ids = {span_id(s) for s in decisions}
    for service in ("reminders", "reports"):
        handled = named(traced, f"process {subjects.DECISIONS_STREAM}", service)
        assert handled and {parent_of(s) for s in handled} <= decision_ids, service

    # Reminders' escalations join the trace of the decision that caused them; reports handles them.
    reminders_handled = {
        span_id(s) for s in named(traced, f"process {subjects.DECISIONS_STREAM}", "reminders")
    }
    escalations = named(traced, "publish majorops.escalations")
    assert len(escalations) == 6
    assert {parent_of(s) for s in escalations} <= reminders_handled
    escalation_ids = {span_id(s) for s in escalations}
    assert {
        parent_of(s) for s in named(traced, f"process {subjects.ESCALATIONS_STREAM}", "reports")
    } <= escalation_ids


async def test_without_a_caller_trace_ingest_starts_one_and_policy_continues_it(
    nats_url: str, js: JetStreamContext, data_dir: Path, unique_id: str, ingest: httpx.AsyncClient
) -> None:
    """The brief's own case: ingest's publish span, policy's handle span and policy's decision publish
    share one trace id, with nothing given by the caller."""
    policy = PolicyRuntime(testing.settings_for(PolicySettings, nats_url, data_dir))
    declared = contract_example_events(unique_id)[1]
    with recorded_spans() as spans:
        async with running(policy):
            posted = await ingest.post("/v1/events", json=declared, headers=bearer(INGEST_TOKEN))
            assert posted.status_code == 202, posted.text

            async def decided() -> list[ReadableSpan]:
                return [
                    s
                    for s in named(list(spans), "publish majorops.decisions")
                    if (s.attributes or {}).get("messaging.destination.name")
                    == subjects.decision_subject(unique_id)
                ]

            (decision,) = await eventually(
                decided, lambda found: len(found) == 1, "policy's decision published"
            )
        recorded = list(spans)
    assert decision.context is not None
    trace_id = decision.context.trace_id
    (publish,) = [
        s
        for s in named(recorded, "publish majorops.events")
        if (s.attributes or {})
        .get("messaging.destination.name", "")
        .startswith(f"majorops.events.{unique_id}.")
    ]
    (handled,) = [
        s
        for s in named(recorded, f"process {subjects.EVENTS_STREAM}", "policy")
        if (s.attributes or {}).get("majorops.incident_id") == unique_id
    ]
    assert publish.context is not None and handled.context is not None
    assert publish.context.trace_id == handled.context.trace_id == trace_id
    assert parent_of(handled) == span_id(publish)
    assert parent_of(decision) == span_id(handled)
