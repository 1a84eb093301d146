"""The input contract: CloudEvents 1.0 envelopes and the data of every event type (CONTRACT §1).

Validation is all-or-nothing per envelope and reports every problem with its field path, so that
ingest can answer a batch with one precise problem document. Unknown extra ``data`` fields are
kept; an unknown ``type`` is an error, so that a typo never disappears silently.

The contract is read in layers: :mod:`~majorops.shared.events.fields` (severities, times, text),
:mod:`~majorops.shared.events.data` (the data of each type), :mod:`~majorops.shared.events.envelope`
(the CloudEvents envelope) and :mod:`~majorops.shared.events.validation` (checking one).

This package is the contract's API, and its one way in: outside ``majorops.shared.events`` every
name is imported from ``majorops.shared.events``, never from a submodule; inside, each submodule
imports from the one that defines the name. The re-exports below are the package's face, the only
ones the tree has besides the test kit's (``tests/test_code_shape.py``).
"""

from majorops.shared.events.data import EVENT_DATA_MODELS as EVENT_DATA_MODELS
from majorops.shared.events.data import EVENT_TYPE_PREFIX as EVENT_TYPE_PREFIX
from majorops.shared.events.data import INCIDENT_UPDATE_FIELDS as INCIDENT_UPDATE_FIELDS
from majorops.shared.events.data import MTM_ITEM_PREFIX as MTM_ITEM_PREFIX
from majorops.shared.events.data import ActionItemCompleted as ActionItemCompleted
from majorops.shared.events.data import ActionItemCreated as ActionItemCreated
from majorops.shared.events.data import ActionItemUpdated as ActionItemUpdated
from majorops.shared.events.data import AfterActionRescheduled as AfterActionRescheduled
from majorops.shared.events.data import AfterActionScheduled as AfterActionScheduled
from majorops.shared.events.data import AlertFired as AlertFired
from majorops.shared.events.data import AlertResolved as AlertResolved
from majorops.shared.events.data import EventData as EventData
from majorops.shared.events.data import EventType as EventType
from majorops.shared.events.data import IncidentDeclared as IncidentDeclared
from majorops.shared.events.data import IncidentUpdated as IncidentUpdated
from majorops.shared.events.data import ItemId as ItemId
from majorops.shared.events.data import MilestoneLogged as MilestoneLogged
from majorops.shared.events.data import MtmActionItem as MtmActionItem
from majorops.shared.events.data import MtmHeld as MtmHeld
from majorops.shared.events.data import NoData as NoData
from majorops.shared.events.data import PhaseEntered as PhaseEntered
from majorops.shared.events.data import RoleAssigned as RoleAssigned
from majorops.shared.events.data import RootCauseIdentified as RootCauseIdentified
from majorops.shared.events.data import SlaStatus as SlaStatus
from majorops.shared.events.data import StatusPosted as StatusPosted
from majorops.shared.events.data import TimelineLogged as TimelineLogged
from majorops.shared.events.data import TrackClosed as TrackClosed
from majorops.shared.events.data import TrackOpened as TrackOpened
from majorops.shared.events.data import VendorEngaged as VendorEngaged
from majorops.shared.events.data import VendorRcaCommitted as VendorRcaCommitted
from majorops.shared.events.data import VendorRcaReceived as VendorRcaReceived
from majorops.shared.events.data import VendorResponded as VendorResponded
from majorops.shared.events.data import mtm_item_id as mtm_item_id
from majorops.shared.events.data import parse_extra_event_types as parse_extra_event_types
from majorops.shared.events.envelope import AUTH_API_KEY as AUTH_API_KEY
from majorops.shared.events.envelope import AUTH_ATTRIBUTES as AUTH_ATTRIBUTES
from majorops.shared.events.envelope import AUTH_SERVICE_ACCOUNT as AUTH_SERVICE_ACCOUNT
from majorops.shared.events.envelope import EVENT_ID_MAX_LENGTH as EVENT_ID_MAX_LENGTH
from majorops.shared.events.envelope import INCIDENT_ID_PATTERN as INCIDENT_ID_PATTERN
from majorops.shared.events.envelope import CloudEvent as CloudEvent
from majorops.shared.events.fields import MAX_YEAR as MAX_YEAR
from majorops.shared.events.fields import MIN_YEAR as MIN_YEAR
from majorops.shared.events.fields import SEVERITY_ALIASES as SEVERITY_ALIASES
from majorops.shared.events.fields import SEVERITY_RANK as SEVERITY_RANK
from majorops.shared.events.fields import TIMESTAMP_SCHEMA as TIMESTAMP_SCHEMA
from majorops.shared.events.fields import DueDate as DueDate
from majorops.shared.events.fields import NonNegativeInt as NonNegativeInt
from majorops.shared.events.fields import Number as Number
from majorops.shared.events.fields import Person as Person
from majorops.shared.events.fields import Severity as Severity
from majorops.shared.events.fields import SeverityField as SeverityField
from majorops.shared.events.fields import Text as Text
from majorops.shared.events.fields import Timestamp as Timestamp
from majorops.shared.events.fields import checked_time as checked_time
from majorops.shared.events.fields import due_moment as due_moment
from majorops.shared.events.fields import is_plain_date as is_plain_date
from majorops.shared.events.fields import normalise_severity as normalise_severity
from majorops.shared.events.fields import one_of as one_of
from majorops.shared.events.fields import parse_rfc3339 as parse_rfc3339
from majorops.shared.events.fields import severity_forms as severity_forms
from majorops.shared.events.fields import shown as shown
from majorops.shared.events.validation import EventValidationError as EventValidationError
from majorops.shared.events.validation import FieldError as FieldError
from majorops.shared.events.validation import document_store_key_errors as document_store_key_errors
from majorops.shared.events.validation import unknown_type_message as unknown_type_message
from majorops.shared.events.validation import validate_event as validate_event
