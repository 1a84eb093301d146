"""Prometheus Alertmanager webhooks (payload version 4) as CloudEvents (CONTRACT §2).

Alertmanager re-sends a group's notification every ``repeat_interval`` and on every change in the
group; the event id is derived from the alert's fingerprint, status and timestamp, so those
repeats are counted as duplicates by ingest's normal idempotency.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from majorops.shared.events import INCIDENT_ID_PATTERN, EventType, FieldError, parse_rfc3339
from majorops.shared.problems import Problem

_INCIDENT_ID = re.compile(INCIDENT_ID_PATTERN)
_NUMBER = re.compile(r"^\s*\d+\s*$")


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Annotated[StrictStr, Field(json_schema_extra={"enum": ["firing", "resolved"]})]
    labels: Annotated[dict[str, StrictStr], Field(json_schema_extra={"required": ["alertname"]})]
    annotations: dict[str, StrictStr] = Field(default_factory=dict)
    startsAt: StrictStr
    endsAt: StrictStr | None = None
    generatorURL: StrictStr | None = None
    fingerprint: StrictStr


class AmWebhook(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: Annotated[StrictStr, Field(json_schema_extra={"enum": ["4"]})]
    groupKey: StrictStr
    status: StrictStr
    receiver: StrictStr = "webhook"
    externalURL: StrictStr | None = None
    alerts: list[AmAlert]


def incident_id_for(alert: AmAlert, group_key: str) -> str:
    """The alert's ``incident_id`` label, else ``AM-`` + 12 hex digits of SHA-256(groupKey)."""
    label = alert.labels.get("incident_id")
    if label:
        return label
    return "AM-" + hashlib.sha256(group_key.encode()).hexdigest()[:12]


def _problem(errors: list[FieldError]) -> Problem:
    return Problem(
        422,
        "Invalid Alertmanager webhook",
        f"{len(errors)} problem(s) in the webhook payload; nothing was published",
        "invalid-alertmanager-webhook",
        tuple(errors),
    )


def webhook_to_events(body: Any) -> list[dict[str, Any]] | Problem:
    """Map a webhook payload to envelopes (validated by ingest's normal path afterwards)."""
    try:
        hook = AmWebhook.model_validate(body)
    except ValidationError as exc:
        return _problem(
            [
                FieldError(".".join(str(p) for p in e["loc"]) or "(body)", e["msg"])
                for e in exc.errors(include_url=False)
            ]
        )
    errors: list[FieldError] = []
    if hook.version != "4":
        errors.append(
            FieldError("version", f"payload version {hook.version!r} is not supported; expected '4'")
        )
    events: list[dict[str, Any]] = []
    for index, alert in enumerate(hook.alerts):
        where = f"alerts[{index}]"
        if alert.status not in ("firing", "resolved"):
            errors.append(
                FieldError(f"{where}.status", f"must be 'firing' or 'resolved', got {alert.status!r}")
            )
            continue
        if "alertname" not in alert.labels:
            errors.append(FieldError(f"{where}.labels.alertname", "is required"))
            continue
        incident = incident_id_for(alert, hook.groupKey)
        if not _INCIDENT_ID.match(incident):
            errors.append(FieldError(f"{where}.labels.incident_id", f"does not match {INCIDENT_ID_PATTERN}"))
            continue
        firing = alert.status == "firing"
        stamp = alert.startsAt if firing else alert.endsAt
        stamp_field = f"{where}.{'startsAt' if firing else 'endsAt'}"
        try:
            if stamp is None:
                raise ValueError("is required")
            parse_rfc3339(stamp)
        except ValueError as exc:
            errors.append(FieldError(stamp_field, str(exc)))
            continue
        events.append(_envelope(hook, alert, incident, stamp))
    if errors:
        return _problem(errors)
    return events


def _envelope(hook: AmWebhook, alert: AmAlert, incident: str, stamp: str) -> dict[str, Any]:
    firing = alert.status == "firing"
    data: dict[str, Any] = {"alert_name": alert.labels["alertname"]}
    if firing:
        if "service" in alert.labels:
            data["service"] = alert.labels["service"]
        count = alert.labels.get("customer_count") or alert.annotations.get("customer_count")
        if count is not None and _NUMBER.match(count):
            data["customer_count"] = int(count)
    for key, value in alert.labels.items():
        if "severity" in key or key == "priority":
            data[key] = value
    data["labels"] = alert.labels
    data["annotations"] = alert.annotations
    data["fingerprint"] = alert.fingerprint
    if alert.generatorURL:
        data["generator_url"] = alert.generatorURL
    return {
        "specversion": "1.0",
        "id": f"am:{alert.fingerprint}:{alert.status}:{stamp}",
        "source": hook.externalURL or f"alertmanager/{hook.receiver}",
        "type": EventType.ALERT_FIRED.value if firing else EventType.ALERT_RESOLVED.value,
        "time": stamp,
        "subject": incident,
        "datacontenttype": "application/json",
        "data": data,
    }
