"""``POST /v1/events`` and ``POST /v1/webhooks/alertmanager``, and what every ingest route shares:
the body limit of each path (which :class:`~majorops.shared.access.TokenGate` holds a request to,
with its sender: a bearer token, or a Standard Webhooks signature), the sender and the answer (202,
or the problem)."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from majorops.ingest.domain.alertmanager import AmWebhook
from majorops.ingest.domain.batch import (
    MAX_ALERTMANAGER_BODY_BYTES,
    MAX_BATCH,
    MAX_BODY_BYTES,
    IngestOutcome,
)
from majorops.ingest.handlers import Sender
from majorops.shared.access import BodyLimit, problem_response
from majorops.shared.events import CloudEvent
from majorops.shared.problems import PROBLEM_SCHEMA, Problem

REALM = "majorops-ingest"


class Ingesting(Protocol):
    """What ingest's routes call (:class:`majorops.ingest.bootstrap.IngestRuntime`): its use cases."""

    async def ingest(self, raw: bytes, sender: Sender) -> IngestOutcome | Problem: ...

    async def ingest_alertmanager(self, raw: bytes, sender: Sender) -> IngestOutcome | Problem: ...

    async def accept(self, body: Any, sender: Sender) -> IngestOutcome | Problem: ...

    def refused(self, problem: Problem, sender: Sender | None = None) -> Problem: ...

    @property
    def extra_types(self) -> frozenset[str]: ...


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its local ``$defs`` references replaced by the definitions themselves,
    so that it can stand inline in the OpenAPI document (nothing there resolves ``#/$defs``)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return dict(resolve(schema))


OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["accepted", "duplicates"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0, "description": "events new to the system, published"},
        "duplicates": {"type": "integer", "minimum": 0, "description": "events whose id was accepted before"},
    },
}


EVENTS_LIMIT: BodyLimit = (MAX_BODY_BYTES, "split the batch")
ALERTMANAGER_LIMIT: BodyLimit = (
    MAX_ALERTMANAGER_BODY_BYTES,
    "make Alertmanager's groups smaller (group_by) or cap their alerts (max_alerts)",
)
ALERTMANAGER_PATH = "/v1/webhooks/alertmanager"


def body_limit(path: str) -> BodyLimit:
    """The limit of a route's body: 16 MiB for Alertmanager's notifications, 1 MiB for the rest."""
    return ALERTMANAGER_LIMIT if path == ALERTMANAGER_PATH else EVENTS_LIMIT


async def sent(request: Request) -> tuple[Sender, bytes]:
    """Who sent a request the gate let in (its token's name) and its body (read by the gate)."""
    raw = await request.body()
    return Sender(request.state.author), raw


def answer(result: IngestOutcome | Problem) -> JSONResponse:
    if isinstance(result, Problem):
        return problem_response(result)
    return JSONResponse(result.as_dict(), status_code=202)


def add_event_routes(app: FastAPI, runtime: Ingesting) -> dict[int | str, dict[str, Any]]:
    """Register ``POST /v1/events`` and ``POST /v1/webhooks/alertmanager``; ``/v1/events``' answers,
    which the other routes adapt."""
    problem = {"application/problem+json": {"schema": PROBLEM_SCHEMA}}
    responses: dict[int | str, dict[str, Any]] = {
        202: {
            "description": "Accepted: counts of new and duplicate events",
            "content": {"application/json": {"schema": OUTCOME_SCHEMA}},
        },
        400: {
            "description": "Body is not strict JSON (not UTF-8, NaN/Infinity, a number beyond 64 bits, "
            "a duplicate key) or nests arrays and objects more than 64 levels deep",
            "content": problem,
        },
        401: {"description": "No valid token or signature; nothing was read", "content": problem},
        409: {
            "description": "An event reuses the id of an event with other content (accepted before, or "
            "earlier in the request); nothing was published",
            "content": problem,
        },
        413: {"description": "Body over 1 MiB", "content": problem},
        422: {"description": "Some event is invalid; nothing was published", "content": problem},
        503: {"description": "JetStream did not acknowledge; retry the request", "content": problem},
    }
    alertmanager_responses = {
        **{code: answer for code, answer in responses.items() if code != 409},
        413: {"description": "Body over 16 MiB", "content": problem},
    }
    envelope = CloudEvent.model_json_schema()
    events_body = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            envelope,
                            {"type": "array", "items": envelope, "minItems": 1, "maxItems": MAX_BATCH},
                        ]
                    }
                }
            },
        }
    }
    alertmanager_body = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_definitions(AmWebhook.model_json_schema())}},
        }
    }

    @app.post("/v1/events", status_code=202, responses=responses, openapi_extra=events_body)
    async def post_events(request: Request) -> JSONResponse:
        """One CloudEvents envelope or an array of up to 1000, all or nothing."""
        sender, raw = await sent(request)
        return answer(await runtime.ingest(raw, sender))

    @app.post(
        ALERTMANAGER_PATH,
        status_code=202,
        responses=alertmanager_responses,
        openapi_extra=alertmanager_body,
    )
    async def post_alertmanager(request: Request) -> JSONResponse:
        """Prometheus Alertmanager webhook (payload version 4): each alert becomes alert.fired/resolved;
        a group's incident without an `incident_id` label (`AM-…`) also gets one incident.updated
        with the title and severity its alerts give (see docs/alertmanager.md). A notification is
        accepted whole up to 16 MiB, whatever the number of alerts of its group."""
        sender, raw = await sent(request)
        return answer(await runtime.ingest_alertmanager(raw, sender))

    return responses
