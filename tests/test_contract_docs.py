"""The committed AsyncAPI/OpenAPI copies of the contract match what the code generates."""

from __future__ import annotations

import json
from pathlib import Path

from majorops.cli.contract_docs import render_all

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api"


def test_committed_contract_documents_match_the_code() -> None:
    for name, text in render_all().items():
        committed = (DOCS / name).read_text()
        assert committed == text, (
            f"docs/api/{name} is stale: run `.venv/bin/python -m majorops.cli.contract_docs`"
        )


def test_contract_subjects_and_paths_are_documented() -> None:
    asyncapi = json.loads((DOCS / "asyncapi.json").read_text())
    addresses = {c["address"] for c in asyncapi["channels"].values()}
    assert "majorops.events.{incident_id}.{type}" in addresses
    assert "majorops.decisions.{incident_id}" in addresses
    assert "majorops.escalations.{incident_id}.{kind}" in addresses
    assert "majorops.ingest" in addresses
    assert len(asyncapi["channels"]["events"]["messages"]) == 29
    ingest = json.loads((DOCS / "openapi-ingest.json").read_text())
    assert {"/v1/events", "/v1/webhooks/alertmanager", "/healthz", "/readyz"} <= set(ingest["paths"])
    reports = json.loads((DOCS / "openapi-reports.json").read_text())
    assert "/v1/reviews/{incident_id}" in reports["paths"]
