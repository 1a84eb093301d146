"""Prometheus Alertmanager webhooks (payload version 4) as CloudEvents (CONTRACT §2).

Alertmanager re-sends a group's notification every ``repeat_interval`` and on every change in the
group; the event id is derived from the alert's fingerprint, status and timestamp, so those
repeats are counted as duplicates by ingest's normal idempotency.

An incident that exists only because of an Alertmanager group (``AM-…``: its alerts carry no
``incident_id`` label) has nobody to declare it, so the webhook also gives it one
``majorops.incident.updated`` with a title and, when a label says so, a severity (see
:func:`group_update`). Not ``incident.declared``: that a person declared a major incident is a fact
of its own, which we must not fake.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from majorops.shared.events import (
    INCIDENT_ID_PATTERN,
    SEVERITY_RANK,
    EventType,
    FieldError,
    Severity,
    checked_time,
    normalise_severity,
)
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
    return group_incident_id(group_key)


def group_incident_id(group_key: str) -> str:
    """The incident of an Alertmanager group's alerts that carry no ``incident_id`` label."""
    return "AM-" + hashlib.sha256(group_key.encode()).hexdigest()[:12]


def contract_severity(label: str | None) -> Severity | None:
    """A ``severity`` label as a contract severity (``critical``…``low``, ``P1``–``P4``, any case),
    or ``None``: Prometheus' usual ``warning``/``info`` have no contract meaning, and guessing one
    would decide whether an After Action is mandatory."""
    normalised = normalise_severity(label)
    return Severity(normalised) if normalised in {s.value for s in Severity} else None


def group_update(hook: AmWebhook, incident: str, alerts: list[tuple[AmAlert, datetime]]) -> dict[str, Any]:
    """The ``incident.updated`` an ``AM-`` incident gets from the alerts of a payload (with their
    parsed ``startsAt``), firing or resolved, that carry no ``incident_id`` label.

    - ``time``: the earliest ``startsAt`` (as sent);
    - ``title``: the ``summary`` annotation of the first alert (earliest ``startsAt``, then
      fingerprint), else its ``alertname``;
    - ``severity``: the strongest ``severity`` label that is a contract severity; left out when none
      is (the raw labels stay in the alert events' ``data``);
    - ``id``: ``am:<incident>:incident:`` + 16 hex digits of SHA-256 of (title, severity). Every
      repeat of the group's notification names the same update, so it is a duplicate; a group that
      gains a more severe alert yields a new update, and policy raises the severity (it keeps the
      highest ever seen). A lower one can only add an update that changes nothing.
    """
    first, _ = min(alerts, key=lambda pair: (pair[1], pair[0].fingerprint))
    summary = first.annotations.get("summary", "").strip()
    title = summary or first.labels["alertname"]
    severities = [s for s in (contract_severity(a.labels.get("severity")) for a, _ in alerts) if s]
    severity = max(severities, key=SEVERITY_RANK.__getitem__) if severities else None
    data: dict[str, Any] = {"title": title}
    if severity is not None:
        data["severity"] = severity.value
    data["source"] = "alertmanager"
    digest = hashlib.sha256(json.dumps([title, data.get("severity")]).encode()).hexdigest()[:16]
    return {
        "specversion": "1.0",
        "id": f"am:{incident}:incident:{digest}",
        "source": _source(hook),
        "type": EventType.INCIDENT_UPDATED.value,
        "time": first.startsAt,
        "subject": incident,
        "datacontenttype": "application/json",
        "data": data,
    }


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
    # Alerts without an incident_id label, with their parsed startsAt, per AM- incident (one per
    # payload, since a payload is one group; kept general all the same).
    groups: dict[str, list[tuple[AmAlert, datetime]]] = {}
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
        if not _INCIDENT_ID.fullmatch(incident):
            errors.append(FieldError(f"{where}.labels.incident_id", f"does not match {INCIDENT_ID_PATTERN}"))
            continue
        firing = alert.status == "firing"
        stamp = alert.startsAt if firing else alert.endsAt
        stamp_field = f"{where}.{'startsAt' if firing else 'endsAt'}"
        try:
            if stamp is None:
                raise ValueError("is required")
            checked_time(stamp)
        except ValueError as exc:
            errors.append(FieldError(stamp_field, str(exc)))
            continue
        if not alert.labels.get("incident_id"):
            try:
                # A resolved alert's startsAt counts too: it dates the group's update.
                started = checked_time(alert.startsAt)
            except ValueError as exc:
                errors.append(FieldError(f"{where}.startsAt", str(exc)))
                continue
            groups.setdefault(incident, []).append((alert, started))
        events.append(_envelope(hook, alert, incident, stamp))
    if errors:
        return _problem(errors)
    # The updates come after the alert events: then events[i] is still alerts[i], so a problem
    # that ingest's validation reports by event index points at the same alert of the payload; and
    # a request JetStream acknowledges only in part (503) has stored the alerts, the facts, before
    # the summary derived from them (the retry, or Alertmanager's next repeat, adds it). Consumers
    # do not depend on the order: every result depends only on the set of an incident's events.
    events.extend(group_update(hook, incident, alerts) for incident, alerts in groups.items())
    return events


def storable(names: dict[str, str]) -> dict[str, str]:
    """Label or annotation names as the record may keep them: Prometheus 3 allows UTF-8 names such
    as OpenTelemetry's ``service.name``, but a key with ``.``, a leading ``$`` or NUL is one a
    document store interprets (and ingest refuses it, docs/contract-extensions.md). They are
    written as Prometheus' own translation of such names does: each of those characters as ``_``
    (``service.name`` → ``service_name``); a name already taken keeps its first value."""
    kept: dict[str, str] = {}
    for name, value in names.items():
        safe = name.replace(".", "_").replace("\x00", "_")
        safe = "_" + safe[1:] if safe.startswith("$") else safe
        kept.setdefault(safe, value)
    return kept


def _envelope(hook: AmWebhook, alert: AmAlert, incident: str, stamp: str) -> dict[str, Any]:
    firing = alert.status == "firing"
    data: dict[str, Any] = {"alert_name": alert.labels["alertname"]}
    if firing:
        if "service" in alert.labels:
            data["service"] = alert.labels["service"]
        count = alert.labels.get("customer_count") or alert.annotations.get("customer_count")
        if count is not None and _NUMBER.match(count):
            data["customer_count"] = int(count)
    labels, annotations = storable(alert.labels), storable(alert.annotations)
    for key, value in labels.items():
        if "severity" in key or key == "priority":
            data[key] = value
    data["labels"] = labels
    data["annotations"] = annotations
    data["fingerprint"] = alert.fingerprint
    if alert.generatorURL:
        data["generator_url"] = alert.generatorURL
    return {
        "specversion": "1.0",
        "id": f"am:{alert.fingerprint}:{alert.status}:{stamp}",
        "source": _source(hook),
        "type": EventType.ALERT_FIRED.value if firing else EventType.ALERT_RESOLVED.value,
        "time": stamp,
        "subject": incident,
        "datacontenttype": "application/json",
        "data": data,
    }


def _source(hook: AmWebhook) -> str:
    return hook.externalURL or f"alertmanager/{hook.receiver}"
