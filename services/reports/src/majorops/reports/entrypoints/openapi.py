"""Reports' OpenAPI document says what reports answers: every problem a route can send, the
bearer token, and no FastAPI default that reports never sends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from majorops.shared.access import declare_bearer
from majorops.shared.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA

BEARER_DESCRIPTION = (
    "A token of MAJOROPS_REPORTS_READ_TOKENS (GET) or MAJOROPS_REPORTS_WRITE_TOKENS (every request); "
    "401 without a valid one, 403 for a read token on a change"
)
PROBLEM_TEXTS = {
    400: "Body is not strict JSON (not UTF-8, NaN/Infinity, a number beyond 64 bits, a duplicate "
    "key) or nests arrays and objects more than 64 levels deep",
    401: "No valid token",
    403: "A read token on a change",
    404: "Unknown incident or action item",
    409: "Conflict with the review's current state",
    412: "The review changed since it was read (If-Match does not match its ETag)",
    413: "Body over 1 MiB",
    422: "Invalid input: every bad field is named; nothing was changed",
    428: "If-Match is required",
    503: "JetStream did not acknowledge the event; nothing was changed, retry",
}


def problem_responses(
    *codes: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of the problems a route sends (``401`` always); ``described`` says
    what a code means for this route where it is not :data:`PROBLEM_TEXTS`' general meaning."""
    texts = {**PROBLEM_TEXTS, **(described or {})}
    return {
        code: {
            "description": f"{texts[code]} (application/problem+json)",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
        }
        for code in sorted({401, *codes})
    }


def as_answered(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document saying what reports answers, where FastAPI's own would not:

    - ``If-Match`` is required and non-blank wherever it is taken. The handler takes the header as
      optional so that a request without it gets the precise ``428`` (RFC 6585) rather than a
      generic ``422``; the document still says what a client must send.
    - FastAPI's ``422`` (``HTTPValidationError``, ``application/json``) is never sent: every
      invalid request is answered with a problem document, declared where it can happen.
    """
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter.get("name") == "if-match":
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "pattern": r"\S", "title": "If-Match"}
            responses = operation.get("responses", {})
            if "application/json" in responses.get("422", {}).get("content", {}):
                del responses["422"]
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}" not in json.dumps(schema):
            schemas.pop(name, None)
    return schema


def document_as_answered(app: FastAPI) -> None:
    """Serve :func:`as_answered` of FastAPI's document, with the bearer scheme declared."""
    describe = app.openapi

    def openapi() -> dict[str, Any]:
        return as_answered(declare_bearer(describe(), BEARER_DESCRIPTION))

    app.openapi = openapi  # type: ignore[method-assign]
