"""``POST /v1/webhooks/<mapping>``: any sender's webhook, by a declarative mapping (no code).

The mapping (:mod:`majorops.ingest.domain.mapping_model`, docs/webhook-mappings.md) turns the sender's
payload into CloudEvents; they are then accepted exactly as ``/v1/events`` accepts a batch: same
credentials (a bearer token or a signature), strict JSON, 1 MiB, all or nothing, ``authid``
recorded, and an id reused with other content refused (``409``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import structlog
from fastapi import FastAPI, Path, Request
from fastapi.responses import JSONResponse

from majorops.ingest.domain.mapping_model import WebhookMapping
from majorops.ingest.domain.mapping_payload import Mapped, map_payload
from majorops.ingest.entrypoints.http import Ingesting, sent
from majorops.ingest.handlers import Sender, parse_body
from majorops.shared.access import problem_response
from majorops.shared.problems import Problem

log = structlog.get_logger(__name__)

MAPPED_OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["accepted", "duplicates", "ignored"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0, "description": "events new to the system, published"},
        "duplicates": {"type": "integer", "minimum": 0, "description": "events whose id was accepted before"},
        "ignored": {
            "type": "array",
            "description": "the sender's events the mapping has no rule for (nothing made of them)",
            "items": {
                "type": "object",
                "required": ["index", "kind", "reason"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0, "description": "which item of the payload"},
                    "kind": {"type": "string", "description": "the sender's kind of event"},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}
PAYLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The sender's own JSON payload, as its mapping reads it",
        "content": {"application/json": {"schema": {"description": "Any JSON value"}}},
    }
}
NAME_DESCRIPTION = (
    "The mapping: a file <name>.json shipped with ingest (pagerduty: PagerDuty V3 webhooks; opsgenie: "
    "Opsgenie alert webhooks) or in MAJOROPS_WEBHOOK_MAPPINGS_DIR (docs/webhook-mappings.md)"
)


def unknown_mapping(name: str, mappings: Mapping[str, WebhookMapping]) -> Problem:
    known = ", ".join(f"'{known}'" for known in sorted(mappings)) or "none"
    return Problem(
        404,
        "Unknown webhook mapping",
        f"No webhook mapping is named {name[:64]!r} (known: {known}). A deployment adds its own as "
        "<name>.json in MAJOROPS_WEBHOOK_MAPPINGS_DIR (docs/webhook-mappings.md)",
        "unknown-webhook-mapping",
    )


async def ingest_mapped(
    runtime: Ingesting, mapping: WebhookMapping, raw: bytes, sender: Sender
) -> dict[str, Any] | Problem:
    """Map a payload and accept its events (``/v1/events``' rules); the 202 answer, or the problem."""
    body = parse_body(raw)
    if isinstance(body, Problem):
        return runtime.refused(body, sender)
    mapped = map_payload(mapping, body, runtime.extra_types)
    if isinstance(mapped, Problem):
        log.info(
            "ingest.webhook_refused", mapping=mapping.name, errors=len(mapped.errors), sender=sender.name
        )
        return runtime.refused(mapped, sender)
    for ignored in mapped.ignored:
        log.info("ingest.webhook_ignored", mapping=mapping.name, kind=ignored.kind, sender=sender.name)
    outcome = await runtime.accept(mapped.events, sender) if mapped.events else None
    if isinstance(outcome, Problem):
        return outcome
    return answer(outcome.as_dict() if outcome else {"accepted": 0, "duplicates": 0}, mapped)


def answer(counts: dict[str, int], mapped: Mapped) -> dict[str, Any]:
    return {**counts, "ignored": [ignored.as_dict() for ignored in mapped.ignored]}


def add_mapping_route(
    app: FastAPI,
    runtime: Ingesting,
    mappings: Mapping[str, WebhookMapping],
    responses: Mapping[int | str, dict[str, Any]],
) -> None:
    """Register ``POST /v1/webhooks/{mapping}`` (after ``/v1/webhooks/alertmanager``, which it must
    not shadow) with ``responses`` (``/v1/events``' answers) adapted to it."""
    problem = responses[401]["content"]
    documented: dict[int | str, dict[str, Any]] = {
        **responses,
        202: {
            "description": "Accepted: counts of new and duplicate events, and the sender's events the "
            "mapping has no rule for (ignored, with the reason)",
            "content": {"application/json": {"schema": MAPPED_OUTCOME_SCHEMA}},
        },
        404: {"description": "No webhook mapping of that name", "content": problem},
        422: {
            "description": "The payload does not fit its mapping (each error names the payload's path, "
            "e.g. $.event.data.id, and the problem names the mapping), or an event it makes is invalid; "
            "nothing was published",
            "content": problem,
        },
    }

    @app.post("/v1/webhooks/{mapping}", status_code=202, responses=documented, openapi_extra=PAYLOAD_BODY)
    async def post_mapped_webhook(
        mapping: Annotated[str, Path(description=NAME_DESCRIPTION, examples=["pagerduty", "opsgenie"])],
        request: Request,
    ) -> JSONResponse:
        """Any sender's webhook, turned into CloudEvents by a declarative mapping (docs/webhook-mappings.md):
        shipped are `pagerduty` (PagerDuty V3 webhooks: incident.triggered, acknowledged, resolved,
        priority_updated) and `opsgenie` (Opsgenie alert webhooks: Create, Acknowledge, Close). The
        sender's kinds of event the mapping has no rule for are ignored, with the reason in the
        answer. A retried delivery is a duplicate (ids derive from the sender's own event ids)."""
        sender, raw = await sent(request)
        found = mappings.get(mapping)
        if found is None:
            return problem_response(runtime.refused(unknown_mapping(mapping, mappings), sender))
        result = await ingest_mapped(runtime, found, raw, sender)
        if isinstance(result, Problem):
            return problem_response(result)
        return JSONResponse(result, status_code=202)
