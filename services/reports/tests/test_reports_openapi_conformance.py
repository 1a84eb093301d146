"""Found by schemathesis: what the reports OpenAPI promises is what the service does.

A client that follows the schema must not be refused, and a 405 must list in ``Allow`` exactly the
methods the schema documents for that path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from majorops.reports.bootstrap import create_app
from majorops.reports.config import ReportsSettings
from majorops.shared.testing import TOKEN_SETTINGS, WRITE_TOKEN
from majorops.shared.testkit import app_client

PROBLEM = "application/problem+json"


@pytest.fixture
async def client(nats_url: str, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(ReportsSettings(**TOKEN_SETTINGS, nats_url=nats_url, data_dir=data_dir))
    async with app_client(app, WRITE_TOKEN, "http://reports") as http:
        yield http


def body_schema(openapi: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    ref = openapi["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema: dict[str, Any] = openapi["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/reviews/INC-1", {"GET", "PATCH"}),
        ("/v1/reviews/INC-1.md", {"GET"}),
        ("/v1/reviews/INC-1/invite.ics", {"GET"}),
        ("/v1/reviews/INC-1/publish", {"POST"}),
    ],
)
async def test_a_405_lists_every_documented_method_of_the_path_in_allow(
    client: httpx.AsyncClient, path: str, allowed: set[str]
) -> None:
    resp = await client.request("OPTIONS", path)
    assert resp.status_code == 405
    assert resp.headers["content-type"] == PROBLEM
    assert set(resp.headers["allow"].split(", ")) == allowed
    template = path.replace("INC-1", "{incident_id}")
    documented = (await client.get("/openapi.json")).json()["paths"][template]
    assert {method.upper() for method in documented} == allowed


async def test_the_schema_refuses_what_the_service_refuses(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/openapi.json")).json()
    changes = body_schema(openapi, "/v1/reviews/{incident_id}/action-items/{item_id}", "patch")
    new_item = body_schema(openapi, "/v1/reviews/{incident_id}/action-items", "post")
    narrative = body_schema(openapi, "/v1/reviews/{incident_id}", "patch")

    # An empty change is refused, so the schema asks for at least one field.
    assert changes["minProperties"] == 1
    assert narrative["minProperties"] == 1
    # A title cannot be cleared or blank: not nullable, needs a non-space character.
    assert changes["properties"]["title"]["type"] == "string"
    assert "anyOf" not in changes["properties"]["title"]
    assert new_item["properties"]["title"]["pattern"] == r"\S"
    # A due date is an RFC 3339 time or a plain date, not any string.
    due = new_item["properties"]["due"]["anyOf"][0]
    assert due["anyOf"] == [{"format": "date-time"}, {"format": "date"}]


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        ("/v1/reviews/INC-1/action-items/AI-1", "PATCH", {"title": None}, "title"),
        ("/v1/reviews/INC-1/action-items/AI-1", "PATCH", {"due": ""}, "due"),
        ("/v1/reviews/INC-1/action-items", "POST", {"title": "x", "due": "tomorrow"}, "due"),
        ("/v1/reviews/INC-1/action-items", "POST", {"title": " "}, "title"),
    ],
)
async def test_what_the_schema_forbids_is_a_422_naming_the_field(
    client: httpx.AsyncClient, path: str, method: str, body: dict[str, Any], field: str
) -> None:
    resp = await client.request(method, path, json=body)
    assert resp.status_code == 422
    assert resp.headers["content-type"] == PROBLEM
    assert field in {error["field"] for error in resp.json()["errors"]}


async def test_no_swagger_ui_or_redoc_is_served_and_the_openapi_document_is(
    client: httpx.AsyncClient,
) -> None:
    """FastAPI's /docs and /redoc load their scripts from a CDN without integrity checks: off."""
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert (await client.get(path)).status_code == 404, path
    assert (await client.get("/openapi.json")).json()["info"]["title"].endswith("reports")
