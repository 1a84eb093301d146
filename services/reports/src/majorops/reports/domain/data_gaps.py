"""Data gaps: "if the data does not exist, that gap is the first finding" (CONTRACT §5).

A gap is a fact the incident record should hold and does not. Gaps are judged on the events
only (the record captured during the incident), never on what people later wrote into the
Learning Review: a root cause typed into the narrative does not close ``no_root_cause``, because
the point of the finding is to fix the capture, not the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from majorops.reports.domain.timeline import Readable, as_incident
from majorops.shared.events import EventType
from majorops.shared.incident.model import MIM


class DataGap(StrEnum):
    """Every gap code, in the order the contract lists them (and the review reports them)."""

    NO_ALERT = "no_alert"
    NO_CONFIRMATION = "no_confirmation"
    NO_DECLARATION = "no_declaration"
    NO_MITIGATION_TIME = "no_mitigation_time"
    NO_RESOLUTION_TIME = "no_resolution_time"
    NO_PHASE_TRANSITIONS = "no_phase_transitions"
    NO_MILESTONES = "no_milestones"
    NO_ROLE_ASSIGNMENTS = "no_role_assignments"
    NO_MIM_ASSIGNED = "no_mim_assigned"
    NO_STATUS_UPDATES = "no_status_updates"
    NO_CUSTOMER_IMPACT_DATA = "no_customer_impact_data"
    VENDOR_SLA_UNKNOWN = "vendor_sla_unknown"
    NO_ROOT_CAUSE = "no_root_cause"


DATA_GAP_TEXT: Mapping[DataGap, str] = {
    DataGap.NO_ALERT: "No alert fired: detection time is unknown.",
    DataGap.NO_CONFIRMATION: "The incident was never confirmed: time to detect cannot be measured.",
    DataGap.NO_DECLARATION: "The major incident was never declared: time to declare is unknown.",
    DataGap.NO_MITIGATION_TIME: "No mitigation time was logged: time to mitigate cannot be measured.",
    DataGap.NO_RESOLUTION_TIME: "No validated recovery was logged: time to resolve cannot be measured.",
    DataGap.NO_PHASE_TRANSITIONS: "No phase transitions were logged.",
    DataGap.NO_MILESTONES: "No milestones (stakeholder communications) were logged.",
    DataGap.NO_ROLE_ASSIGNMENTS: "No roles were assigned in the record.",
    DataGap.NO_MIM_ASSIGNED: "No Major Incident Manager was assigned in the record.",
    DataGap.NO_STATUS_UPDATES: "No status updates (public or internal) were posted.",
    DataGap.NO_CUSTOMER_IMPACT_DATA: "Customer impact is unknown: no customer count, affected users or customer impact flag.",
    DataGap.VENDOR_SLA_UNKNOWN: "A vendor was engaged without a known response SLA.",
    DataGap.NO_ROOT_CAUSE: "No root cause was identified in the record.",
}
"""A sentence per gap, for the rendered review."""


def find_data_gaps(record: Readable) -> list[DataGap]:
    """Every gap present in the incident's record, in :class:`DataGap` order."""
    incident = as_incident(record)
    types = incident.first_at.keys()
    impact = incident.impact
    present = {
        DataGap.NO_ALERT: EventType.ALERT_FIRED not in types,
        DataGap.NO_CONFIRMATION: EventType.INCIDENT_CONFIRMED not in types,
        DataGap.NO_DECLARATION: EventType.INCIDENT_DECLARED not in types,
        DataGap.NO_MITIGATION_TIME: EventType.INCIDENT_MITIGATED not in types,
        DataGap.NO_RESOLUTION_TIME: EventType.INCIDENT_RESOLVED not in types,
        DataGap.NO_PHASE_TRANSITIONS: EventType.PHASE_ENTERED not in types,
        DataGap.NO_MILESTONES: EventType.MILESTONE_LOGGED not in types,
        DataGap.NO_ROLE_ASSIGNMENTS: EventType.ROLE_ASSIGNED not in types,
        DataGap.NO_MIM_ASSIGNED: MIM not in incident.roles,
        DataGap.NO_STATUS_UPDATES: EventType.STATUS_POSTED not in types,
        # A customer count, affected users or a customer impact flag: the impact is known.
        DataGap.NO_CUSTOMER_IMPACT_DATA: impact.customer_impact is None and impact.affected_users is None,
        # Per vendor: the SLA is known if any of its engagements states it (a re-engagement may add it).
        DataGap.VENDOR_SLA_UNKNOWN: any(
            v.engaged_at is not None and v.response_sla_minutes is None for v in incident.vendors
        ),
        DataGap.NO_ROOT_CAUSE: EventType.ROOTCAUSE_IDENTIFIED not in types,
    }
    return [gap for gap in DataGap if present[gap]]
