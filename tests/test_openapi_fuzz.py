"""Schemathesis over both HTTP APIs: what the OpenAPI documents promise is what the services do.

Each service runs as in production (uvicorn, its lifespan connected to the session's real
nats-server, reports with its SQLite store in a data dir) and is fuzzed through real HTTP from the
committed ``docs/api/openapi-*.json``, which must be the document the running app serves. Every
operation is called with the tests' own tokens (ingest: ``tests``, reports: ``editor``, the write
token) and every answer goes through Schemathesis' checks: no 5xx, a documented status and content
type, a body and headers that conform to the schema, schema-invalid input refused, schema-valid
input accepted, auth enforced (a probe without and with a wrong token). Then once more without a
token: every protected operation answers 401 with a problem document, the probes stay open.

Seeded and derandomized (the same cases on every run, no example database), bounded per operation
so that the file takes seconds. What the fuzzing published is deleted from the session's streams
when a service's tests end, so neither the other service nor a later test's runtime consumes it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import settings
from nats.js import JetStreamContext
from schemathesis.openapi.checks import RejectedPositiveData

from majorops.ingest.bootstrap import create_app as create_ingest
from majorops.ingest.config import IngestSettings
from majorops.reports.bootstrap import create_app as create_reports
from majorops.reports.config import ReportsSettings
from majorops.shared import subjects
from majorops.shared.events import EVENT_DATA_MODELS, NoData
from majorops.shared.testing import (
    INGEST_TOKEN,
    WRITE_TOKEN,
    bearer,
    connected_jetstream,
    contract_decision,
    contract_example_events,
    publish_decision,
    publish_event,
    purge_incidents,
    settings_for,
    stored_messages,
    unused_port,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api"
SEED = 20261202
MAX_EXAMPLES = 50
"""Per operation, for the fuzzing phase (the examples and coverage phases add their own cases)."""
UNAUTHENTICATED_EXAMPLES = 5
PROBLEM = "application/problem+json"
OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}
START_SECONDS = 20.0

KNOWN_INCIDENT = "FUZZ-1042"
KNOWN_ITEM = "AI-FUZZ-1"
PLAIN_TYPES = sorted(name for name, model in EVENT_DATA_MODELS.items() if model is NoData)
"""The event types whose ``data`` needs no field: an envelope of one of these can be valid as generated."""
ENVELOPE_VALUES = {
    "id": ["fuzz-event-1", "fuzz-event-2"],
    "type": PLAIN_TYPES,
    "time": ["2026-11-20T09:14:00Z"],
}
# Values that take generated requests past what no schema can say, each in half of the cases (the
# rest stay as generated): reports' seeded review and its action item (else every change is a
# 404) and ``If-Match: *`` (else every edit is a 412); for ingest, event types whose data needs
# nothing, a time of this era and a few ids (else every event is a 422 and none is ever published).
REPORTS_VALUES = {
    "path.incident_id": [KNOWN_INCIDENT],
    "path.item_id": [KNOWN_ITEM],
    "header.if-match": ["*"],
}
INGEST_VALUES = {
    **{f"body.{field}": values for field, values in ENVELOPE_VALUES.items()},
    **{f"body.[*].{field}": values for field, values in ENVELOPE_VALUES.items()},
}
MISSING_HEADER_STATUSES = [400, 401, 403, 406, 415, 422, 428]
"""Schemathesis' default, and 428: a missing ``If-Match`` is "Precondition Required" (RFC 6585)."""


def fuzz_config(token: str | None, values: dict[str, list[str]]) -> schemathesis.Config:
    """Seeded and bounded; with ``token`` as the bearer credentials, or with none at all."""
    generation: dict[str, Any] = {
        "max-examples": MAX_EXAMPLES if token else UNAUTHENTICATED_EXAMPLES,
        "deterministic": True,
        "database": "none",
    }
    names = {key: f"values-{n}" for n, key in enumerate(values)}
    config: dict[str, Any] = {
        "seed": SEED,
        # The only health check that depends on the machine's speed, not on the (fixed) cases.
        "suppress-health-check": ["too_slow"],
        "generation": generation,
        "dictionaries": {names[key]: {"values": listed} for key, listed in values.items()},
        "parameters": {key: {"dictionary": names[key], "probability": 0.5} for key in values},
        "checks": {"missing_required_header": {"expected-statuses": MISSING_HEADER_STATUSES}},
    }
    if token:
        config["auth"] = {"openapi": {"bearer": {"bearer": token}}}
    else:
        generation["with-security-parameters"] = False
        config["phases"] = {"coverage": {"enabled": False}, "examples": {"enabled": False}}
    return schemathesis.Config.from_dict(config)


def documented(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DOCS / name).read_text())
    return document


def fuzzed(name: str, token: str | None, values: dict[str, list[str]]) -> Any:
    return schemathesis.openapi.from_dict(documented(name), config=fuzz_config(token, values))


ingest = fuzzed("openapi-ingest.json", INGEST_TOKEN, INGEST_VALUES)
reports = fuzzed("openapi-reports.json", WRITE_TOKEN, REPORTS_VALUES)
ingest_anonymous = fuzzed("openapi-ingest.json", None, INGEST_VALUES)
reports_anonymous = fuzzed("openapi-reports.json", None, REPORTS_VALUES)


# --- schema-valid requests the services rightly refuse -------------------------------------------


def problem_of(response: Any, status: int) -> dict[str, Any] | None:
    """The problem document of a ``status`` answer, else None."""
    if response.status_code != status or response.headers.get("content-type") != [PROBLEM]:
        return None
    document: dict[str, Any] = response.json()
    return document


def invalid_fields(response: Any) -> list[tuple[str, str]]:
    """``(field, message)`` of each error of a 422 problem document; empty for any other answer."""
    problem = problem_of(response, 422)
    return [(error["field"], error["message"]) for error in (problem or {}).get("errors", [])]


def number_beyond_64_bits(response: Any) -> bool:
    """Both services take strict JSON: a number beyond 64 bits is a 400. JSON Schema cannot bound
    every number of free-form ``data`` and extension attributes, so a generated one can be one."""
    problem = problem_of(response, 400)
    return problem is not None and "beyond 64 bits" in problem["detail"]


def due_year_out_of_range(field: str, message: str) -> bool:
    """EXCLUSION until the schema says it: a ``due`` (an action item's, a narrative change's)
    accepts the years 1970-2999 only (``majorops.shared.events.MIN_YEAR``/``MAX_YEAR``), but its
    JSON schema is ``format: date-time`` or ``date``, which allow any year. The fix belongs to the
    ``due`` type's schema (a ``pattern`` on the year), not to the HTTP layer."""
    return field.rsplit(".", 1)[-1] == "due" and "is out of range" in message


@reports.hook("filter_failure")
def reports_refusals_no_schema_can_say(
    context: schemathesis.HookContext, failure: Any, case: schemathesis.Case, response: Any
) -> bool:
    """Keep every failure but a schema-valid request refused because a value is opaque:

    - ``412``: only the review's current ETag matches ``If-Match``, and no schema can name it;
    - ``422`` naming ``cursor`` only: a cursor is valid when a previous page handed it out;

    or for :func:`number_beyond_64_bits` or :func:`due_year_out_of_range`.
    """
    if not isinstance(failure, RejectedPositiveData):
        return True
    fields = invalid_fields(response)
    opaque = response.status_code == 412 or (
        (case.query or {}).get("cursor") is not None and {field for field, _ in fields} == {"cursor"}
    )
    out_of_range = bool(fields) and all(due_year_out_of_range(*error) for error in fields)
    return not (opaque or out_of_range or number_beyond_64_bits(response))


@ingest.hook("filter_failure")
def ingest_refusals_no_schema_can_say(
    context: schemathesis.HookContext, failure: Any, case: schemathesis.Case, response: Any
) -> bool:
    """Keep every failure but a schema-valid request refused with a 422 naming the fields, or for
    :func:`number_beyond_64_bits`. Ingest's 422 is about rules the schema leaves open on purpose:
    the event ``type`` (a deployment may add types), each type's ``data``, a time's year, ids and
    keys fit for NATS headers and document stores, an Alertmanager alert's timestamps by status."""
    if not isinstance(failure, RejectedPositiveData):
        return True
    return not (invalid_fields(response) or number_beyond_64_bits(response))


# --- the services, as uvicorn runs them --------------------------------------------------------


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served on a free local port by uvicorn in a thread, its lifespan run; the base URL."""
    port = unused_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="on", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the app did not start (did its lifespan fail?)")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_SECONDS)


def served_as_documented(base_url: str, name: str) -> None:
    """The app serves ``docs/api/<name>``, to anyone (no token)."""
    served = httpx.get(f"{base_url}/openapi.json")
    assert served.status_code == 200
    assert served.json() == documented(name), (
        f"docs/api/{name} is stale: run `.venv/bin/python -m majorops.cli.contract_docs`"
    )


@asynccontextmanager
async def events_deleted_after(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """Every event published from here on (by the fuzzing, or reports' changes) is deleted on exit."""
    async with connected_jetstream(nats_url) as js:
        before = int((await js.stream_info(subjects.EVENTS_STREAM)).state.last_seq)
        try:
            yield js
        finally:
            for msg in await stored_messages(js, subjects.EVENTS_STREAM, subjects.ALL_EVENTS, before + 1):
                assert msg.seq is not None
                await js.delete_msg(subjects.EVENTS_STREAM, msg.seq)


async def seed_review(js: JetStreamContext, url: str) -> None:
    """CONTRACT §3's example incident and decision as KNOWN_INCIDENT, with the action item
    KNOWN_ITEM, once reports shows them (unique message ids: a rerun on a kept nats-server)."""
    run = time.time_ns()
    for event in contract_example_events(KNOWN_INCIDENT):
        await publish_event(js, event, msg_id=f"{event['id']}-{run}")
    await publish_decision(js, contract_decision(KNOWN_INCIDENT, 4), msg_id=f"{KNOWN_INCIDENT}-{run}")
    review = f"/v1/reviews/{KNOWN_INCIDENT}"
    async with httpx.AsyncClient(base_url=url, headers=bearer(WRITE_TOKEN)) as http:
        await until(http, review, lambda resp: resp.status_code == 200)
        item = {"item_id": KNOWN_ITEM, "title": "Add a pool-saturation alert"}
        assert (await http.post(f"{review}/action-items", json=item)).status_code == 202
        await until(http, review, lambda resp: KNOWN_ITEM in resp.text)


async def until(http: httpx.AsyncClient, path: str, done: Callable[[httpx.Response], bool]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not done(await http.get(path)):
        assert time.monotonic() < deadline, f"GET {path} did not show the seeded data"
        await asyncio.sleep(0.05)


def answers_401_unless_open(case: schemathesis.Case, base_url: str) -> None:
    """Without a token: the probes answer 200, every other operation a 401 problem document."""
    response = case.call(base_url=base_url)
    if case.path in OPEN_PATHS:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == [PROBLEM]
    assert response.headers["www-authenticate"][0].startswith('Bearer realm="majorops-')
    assert response.json()["status"] == 401
    case.validate_response(response, transport_kwargs={"base_url": base_url})


# --- each service's tests in a class: its app is stopped, and its events deleted, before the next starts


@pytest.fixture(scope="class")
async def ingest_url(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    app = create_ingest(settings_for(IngestSettings, nats_url, tmp_path_factory.mktemp("ingest")))
    async with events_deleted_after(nats_url):
        with serving(app) as url:
            served_as_documented(url, "openapi-ingest.json")
            yield url


@pytest.fixture(scope="class")
async def reports_url(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    data_dir = tmp_path_factory.mktemp("reports")
    app = create_reports(settings_for(ReportsSettings, nats_url, data_dir, assemble_delay_seconds=0.01))
    async with events_deleted_after(nats_url) as js:
        try:
            with serving(app) as url:
                served_as_documented(url, "openapi-reports.json")
                await seed_review(js, url)
                yield url
        finally:
            await purge_incidents(js, KNOWN_INCIDENT)


class TestIngest:
    @ingest.parametrize()
    @settings(deadline=None)
    def test_every_answer_is_as_the_openapi_says(self, case: schemathesis.Case, ingest_url: str) -> None:
        case.call_and_validate(base_url=ingest_url)

    @ingest_anonymous.parametrize()
    @settings(deadline=None)
    def test_without_a_token_every_operation_is_401_but_the_probes(
        self, case: schemathesis.Case, ingest_url: str
    ) -> None:
        answers_401_unless_open(case, ingest_url)


class TestReports:
    @reports.parametrize()
    @settings(deadline=None)
    def test_every_answer_is_as_the_openapi_says(self, case: schemathesis.Case, reports_url: str) -> None:
        case.call_and_validate(base_url=reports_url)

    @reports_anonymous.parametrize()
    @settings(deadline=None)
    def test_without_a_token_every_operation_is_401_but_the_probes(
        self, case: schemathesis.Case, reports_url: str
    ) -> None:
        answers_401_unless_open(case, reports_url)
