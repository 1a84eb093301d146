"""The project's copy of its public contract, generated from the code: AsyncAPI + OpenAPI.

``python -m majorops.cli.contract_docs`` rewrites ``docs/api/``; a test regenerates the documents
and fails when the committed copies differ, so the docs cannot drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from majorops.shared import subjects
from majorops.shared.decisions import AfterActionDecision
from majorops.shared.escalations import Escalation, HeadsUp
from majorops.shared.events import EVENT_DATA_MODELS, CloudEvent
from majorops.shared.jetstream import DeadLetter

DOCS_DIR = Path("docs") / "api"


def _schema(model: Any) -> dict[str, Any]:
    return TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0: every subject the system publishes or accepts, with its payload schema."""
    schemas: dict[str, Any] = {}

    def component(name: str, model: Any) -> dict[str, str]:
        schema = _schema(model)
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas[def_name] = definition
        schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}

    envelope_ref = component("CloudEvent", CloudEvent)
    data_messages = {}
    for type_name, model in sorted(EVENT_DATA_MODELS.items()):
        short = type_name.removeprefix("majorops.")
        schema_name = f"data.{short}"
        component(schema_name, model)
        data_messages[short] = {
            "name": type_name,
            "title": type_name,
            "summary": f"CloudEvents envelope of type {type_name}; `data` follows schema {schema_name}",
            "contentType": "application/json",
            "payload": envelope_ref,
            "x-data-schema": {"$ref": f"#/components/schemas/{schema_name}"},
        }
    channels = {
        "ingest": {
            "address": subjects.INGEST_REQUEST,
            "description": "NATS request: an envelope or an array of up to 1000; the reply is ingest's HTTP "
            "answer ({accepted, duplicates} or an RFC 9457 problem document).",
            "messages": {"envelope": {"payload": envelope_ref, "contentType": "application/json"}},
        },
        "events": {
            "address": f"{subjects.EVENTS_ROOT}.{{incident_id}}.{{type}}",
            "description": f"JetStream stream {subjects.EVENTS_STREAM}: accepted events, Nats-Msg-Id = event id.",
            "parameters": {"incident_id": {}, "type": {}},
            "messages": data_messages,
        },
        "decisions": {
            "address": f"{subjects.DECISIONS_ROOT}.{{incident_id}}",
            "description": f"JetStream stream {subjects.DECISIONS_STREAM}: the latest After Action decision.",
            "parameters": {"incident_id": {}},
            "messages": {"decision": {"payload": component("AfterActionDecision", AfterActionDecision)}},
        },
        "escalations": {
            "address": f"{subjects.ESCALATIONS_ROOT}.{{incident_id}}.{{kind}}",
            "description": f"JetStream stream {subjects.ESCALATIONS_STREAM}: escalations, Nats-Msg-Id = escalation_id.",
            "parameters": {"incident_id": {}, "kind": {}},
            "messages": {"escalation": {"payload": component("Escalation", Escalation)}},
        },
        "reminders": {
            "address": f"{subjects.REMINDERS_ROOT}.{{incident_id}}.{{deadline}}",
            "description": f"JetStream stream {subjects.ESCALATIONS_STREAM}: heads-up reminders 24 h before "
            "hold_by, draft_due, publish_by and each action item's due, Nats-Msg-Id = reminder_id.",
            "parameters": {"incident_id": {}, "deadline": {}},
            "messages": {"heads_up": {"payload": component("HeadsUp", HeadsUp)}},
        },
        "deadletter": {
            "address": f"{subjects.DEADLETTER_ROOT}.{{service}}",
            "description": f"JetStream stream {subjects.DEADLETTER_STREAM}: messages a service could not process.",
            "parameters": {"service": {}},
            "messages": {"deadletter": {"payload": component("DeadLetter", DeadLetter)}},
        },
    }
    operations = {
        "sendEvents": {"action": "receive", "channel": {"$ref": "#/channels/ingest"}},
        "consumeEvents": {"action": "send", "channel": {"$ref": "#/channels/events"}},
        "consumeDecisions": {"action": "send", "channel": {"$ref": "#/channels/decisions"}},
        "consumeEscalations": {"action": "send", "channel": {"$ref": "#/channels/escalations"}},
        "consumeReminders": {"action": "send", "channel": {"$ref": "#/channels/reminders"}},
        "consumeDeadLetters": {"action": "send", "channel": {"$ref": "#/channels/deadletter"}},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "MajorOps After Action",
            "version": "1",
            "description": "Subjects and payloads of MajorOps After Action on NATS JetStream (CONTRACT.md §1–§4).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def openapi_documents() -> dict[str, dict[str, Any]]:
    """The OpenAPI documents FastAPI generates for the HTTP services."""
    from majorops.ingest.bootstrap import create_app as create_ingest
    from majorops.ingest.config import IngestSettings
    from majorops.reports.bootstrap import create_app as create_reports
    from majorops.reports.config import ReportsSettings

    return {
        "openapi-ingest.json": create_ingest(IngestSettings()).openapi(),
        "openapi-reports.json": create_reports(ReportsSettings()).openapi(),
    }


def render_all() -> dict[str, str]:
    docs = {"asyncapi.json": asyncapi_document(), **openapi_documents()}
    return {
        name: json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, doc in docs.items()
    }


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (target / name).write_text(text)
        print(f"wrote {target / name}")


if __name__ == "__main__":
    main()
